package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/veilrtc/veil/signaling/cluster"
)

// clusterOptions are the flags of cluster mode (issue 15): the NATS
// servers, the cluster secret and how to authenticate to NATS.
type clusterOptions struct {
	urls       []string
	secretFile string
	creds      string
	nkey       string
	tlsCA      string
	tlsCert    string
	tlsKey     string

	secret []byte // read from secretFile by finish
}

// addFlags registers the cluster flags on fs.
func (c *clusterOptions) addFlags(fs *flag.FlagSet) {
	fs.Var(listFlag{&c.urls}, "cluster", "join a cluster through this NATS `URL` (nats://host:4222 or tls://host:4222; repeatable); needs --cluster-secret-file")
	fs.StringVar(&c.secretFile, "cluster-secret-file", "", "cluster secret `file` (32+ bytes, the same on every node, not readable by group or others): keys NATS subjects and seals every payload")
	fs.StringVar(&c.creds, "cluster-creds", "", "NATS user credentials `file` (.creds)")
	fs.StringVar(&c.nkey, "cluster-nkey", "", "NATS NKey seed `file`")
	fs.StringVar(&c.tlsCA, "cluster-tls-ca", "", "CA certificate `file` (PEM) to verify the NATS servers with")
	fs.StringVar(&c.tlsCert, "cluster-tls-cert", "", "client certificate `file` (PEM) for NATS")
	fs.StringVar(&c.tlsKey, "cluster-tls-key", "", "client key `file` (PEM) for --cluster-tls-cert")
}

// enabled reports whether the node joins a cluster.
func (c *clusterOptions) enabled() bool { return len(c.urls) > 0 }

// finish checks the flags and reads the secret.
func (c *clusterOptions) finish() error {
	if !c.enabled() {
		if c.secretFile != "" || c.creds != "" || c.nkey != "" || c.tlsCA != "" || c.tlsCert != "" {
			return errors.New("--cluster-* options need --cluster")
		}
		return nil
	}
	if c.secretFile == "" {
		return errors.New("--cluster needs --cluster-secret-file, the secret every node shares")
	}
	b, err := readSecretFile(c.secretFile)
	if err != nil {
		return fmt.Errorf("--cluster-secret-file: %w", err)
	}
	if len(b) < cluster.MinSecretBytes {
		return fmt.Errorf("the cluster secret must be at least %d bytes (try: head -c 32 /dev/urandom | base64)", cluster.MinSecretBytes)
	}
	c.secret = b
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--cluster-tls-cert and --cluster-tls-key go together")
	}
	if c.creds != "" && c.nkey != "" {
		return errors.New("--cluster-creds and --cluster-nkey: give one")
	}
	return nil
}

// tlsConfig builds the TLS configuration for NATS, or nil when no TLS
// option is set (tls:// URLs then use the system roots).
func (c *clusterOptions) tlsConfig() (*tls.Config, error) {
	if c.tlsCA == "" && c.tlsCert == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.tlsCA != "" {
		pem, err := os.ReadFile(c.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--cluster-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cluster-tls-ca: no PEM certificate in %s", c.tlsCA)
		}
		cfg.RootCAs = pool
	}
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--cluster-tls-cert/--cluster-tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// newNode builds the cluster node, announcing relay as this node's TURN
// relay address when it is valid.
func (c *clusterOptions) newNode(relay netip.Addr, log *slog.Logger) (*cluster.Node, error) {
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	cfg := cluster.Config{
		URLs: c.urls, Secret: c.secret,
		CredsFile: c.creds, NKeyFile: c.nkey, TLS: tlsCfg,
		Logger: log,
	}
	if relay.IsValid() {
		cfg.RelayAddrs = []netip.Addr{relay}
	}
	return cluster.New(cfg)
}
