package signaling

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Directory finds peers by id. The hub keeps every registered peer in one;
// LocalDirectory holds them in this process's memory. A cluster mode can
// implement Directory over a message bus, returning peers whose Client
// forwards to the node that holds the connection, without touching the
// protocol codecs.
type Directory interface {
	// Add registers p; ErrIDTaken when its id is registered already.
	Add(p *Peer) error
	// Remove unregisters p if it is the peer registered under its id.
	Remove(p *Peer)
	// Lookup returns the peer registered under id, or nil.
	Lookup(id string) *Peer
	// Len returns the number of registered peers.
	Len() int
}

// LocalDirectory is an in-memory Directory sharded to avoid contention.
// Safe for concurrent use.
type LocalDirectory struct {
	seed maphash.Seed
	n    atomic.Int64
	s    [shardCount]struct {
		mu sync.RWMutex // guards m
		m  map[string]*Peer
	}
}

// NewLocalDirectory returns an empty LocalDirectory.
func NewLocalDirectory() *LocalDirectory {
	d := &LocalDirectory{seed: maphash.MakeSeed()}
	for i := range d.s {
		d.s[i].m = make(map[string]*Peer)
	}
	return d
}

func (d *LocalDirectory) shard(id string) int { return int(maphash.String(d.seed, id) % shardCount) }

// Add implements Directory.
func (d *LocalDirectory) Add(p *Peer) error {
	sh := &d.s[d.shard(p.id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[p.id]; ok {
		return ErrIDTaken
	}
	sh.m[p.id] = p
	d.n.Add(1)
	return nil
}

// Remove implements Directory.
func (d *LocalDirectory) Remove(p *Peer) {
	sh := &d.s[d.shard(p.id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[p.id] == p {
		delete(sh.m, p.id)
		d.n.Add(-1)
	}
}

// Lookup implements Directory.
func (d *LocalDirectory) Lookup(id string) *Peer {
	sh := &d.s[d.shard(id)]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.m[id]
}

// Len implements Directory.
func (d *LocalDirectory) Len() int { return int(d.n.Load()) }
