package cluster

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// What the NATS operator sees: subjects made of a tag derived from the
// secret and random node ids, and payloads sealed with
// XChaCha20-Poly1305 under a key derived from the secret, a fresh random
// 192-bit nonce per message (random nonces of that size never repeat in
// practice, unlike AES-GCM's 96 bits), the subject as additional data (a
// message moved to another subject does not open). No room, stream, peer
// id, address or SDP is ever in a subject, and every payload is sealed.

// hkdfSalt separates veil's derivations from any other use of the secret.
const hkdfSalt = "veil cluster v1"

// keys are what a cluster secret derives.
type keys struct {
	aead cipher.AEAD
	tag  string // subject prefix token: which cluster, unreadable without the secret
}

func deriveKeys(secret []byte) (keys, error) {
	read := func(info string, n int) ([]byte, error) {
		b := make([]byte, n)
		_, err := io.ReadFull(hkdf.New(sha256.New, secret, []byte(hkdfSalt), []byte(info)), b)
		return b, err
	}
	sealKey, err := read("seal", chacha20poly1305.KeySize)
	if err != nil {
		return keys{}, err
	}
	subjKey, err := read("subjects", sha256.Size)
	if err != nil {
		return keys{}, err
	}
	aead, err := chacha20poly1305.NewX(sealKey)
	if err != nil {
		return keys{}, err
	}
	mac := hmac.New(sha256.New, subjKey)
	mac.Write([]byte("cluster"))
	return keys{aead: aead, tag: hex.EncodeToString(mac.Sum(nil)[:16])}, nil
}

// seal returns nonce || ciphertext of plain, bound to subject.
func (k keys) seal(subject string, plain []byte) []byte {
	ns := k.aead.NonceSize()
	out := make([]byte, ns, ns+len(plain)+k.aead.Overhead())
	_, _ = rand.Read(out) // crypto/rand.Read never fails on supported platforms
	return k.aead.Seal(out, out[:ns], plain, []byte(subject))
}

// open reverses seal; errUnsealed when b was not sealed for subject
// under this key.
func (k keys) open(subject string, b []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(b) < ns+k.aead.Overhead() {
		return nil, errUnsealed
	}
	plain, err := k.aead.Open(nil, b[:ns], b[ns:], []byte(subject))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnsealed, err)
	}
	return plain, nil
}

// newNodeID returns a random id for this process's node: 128 bits, hex.
// It names no host and changes with every start.
func newNodeID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
