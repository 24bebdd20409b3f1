package hub

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Directory finds peers by protocol namespace and id. Ids live in one namespace
// per protocol (native, PeerJS, VDO.Ninja): the same id may be registered in
// two namespaces by two peers, and a lookup in one never sees the other, so no
// dialect can probe whether an id exists in another (privacy invariant 5,
// docs/THREAT-MODEL.md). The hub keeps every registered peer in one;
// LocalDirectory holds them in this process's memory. In cluster mode
// (bus.go) other nodes' peers are registered in it as remote peers.
type Directory interface {
	// Add registers p; ErrIDTaken when its id is registered already in
	// its namespace.
	Add(p *Peer) error
	// Remove unregisters p if it is the peer registered under its
	// namespace and id.
	Remove(p *Peer)
	// Lookup returns the peer registered under id in namespace ns, or nil.
	Lookup(ns, id string) *Peer
	// Len returns the number of registered peers.
	Len() int
}

// LocalDirectory is an in-memory Directory sharded to avoid contention.
// Safe for concurrent use.
type LocalDirectory struct {
	seed maphash.Seed
	n    atomic.Int64
	s    [shardCount]struct {
		mu sync.RWMutex     // guards m
		m  map[string]*Peer // key(ns, id) -> peer
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
	k := key(p.ns, p.id)
	sh := &d.s[d.shard(k)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[k]; ok {
		return ErrIDTaken
	}
	sh.m[k] = p
	d.n.Add(1)
	return nil
}

// Remove implements Directory.
func (d *LocalDirectory) Remove(p *Peer) {
	k := key(p.ns, p.id)
	sh := &d.s[d.shard(k)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[k] == p {
		delete(sh.m, k)
		d.n.Add(-1)
	}
}

// Lookup implements Directory.
func (d *LocalDirectory) Lookup(ns, id string) *Peer {
	k := key(ns, id)
	sh := &d.s[d.shard(k)]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.m[k]
}

// Len implements Directory.
func (d *LocalDirectory) Len() int { return int(d.n.Load()) }
