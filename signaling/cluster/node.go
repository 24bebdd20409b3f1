package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/veilrtc/veil/signaling/hub"
)

// Node is this process's member of a cluster: it tells the other nodes
// what its hub's local peers do (it is the hub's Bus), and inserts their
// peers into its hub as remote peers. Safe for concurrent use.
type Node struct {
	cfg  Config
	log  *slog.Logger
	keys keys
	id   string // this node's random id
	all  string // the broadcast subject
	self string // this node's inbox subject

	attached atomic.Bool
	hub      *hub.Hub
	nc       *nats.Conn
	in       chan *nats.Msg // broadcasts and this node's inbox, in arrival order
	wake     chan struct{}  // NATS came back: say so at once
	stop     chan struct{}
	done     chan struct{}
	close    sync.Once

	dseq atomic.Uint64 // direct-message counter

	lmu   sync.Mutex // guards the following fields: local changes are numbered and sent in order
	seq   uint64
	local map[*hub.Peer]*localPeer

	claims chan *claim // new claims of client-chosen ids, for the loop

	fetchSeq atomic.Uint64 // resume requests' references
	fmu      sync.Mutex    // guards fetches
	fetches  map[uint64]*fetch
	fetchq   chan *fetch  // resumes asking the cluster, for the loop
	yieldq   chan yielded // sessions this node hands over, back on the loop

	// Owned by the loop goroutine.
	nodes    map[string]*remoteNode
	tombs    map[string]int64 // node id -> last heartbeat time of a node taken for dead
	pending  map[uint64]*claim
	claimSeq uint64

	rmu    sync.RWMutex // guards relays
	relays map[netip.Addr]struct{}

	connected atomic.Bool
	m         metrics
}

// localPeer is what the other nodes were told about a local peer.
type localPeer struct {
	rooms map[string]struct{}
	pubs  []string
	plays map[string]struct{}
	dirs  map[string]struct{} // rooms it directs
	gen   uint64              // how many times it moved between nodes (move.go)
}

// New returns a Node for cfg. It connects to NATS once attached to a hub
// (Attach; signaling.New does it for Config.Cluster).
func New(cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	k, err := deriveKeys(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger,
		keys:    k,
		id:      newNodeID(),
		local:   make(map[*hub.Peer]*localPeer),
		nodes:   make(map[string]*remoteNode),
		tombs:   make(map[string]int64),
		claims:  make(chan *claim),
		pending: make(map[uint64]*claim),
		relays:  make(map[netip.Addr]struct{}),
		fetches: make(map[uint64]*fetch),
		fetchq:  make(chan *fetch),
		yieldq:  make(chan yielded),
		in:      make(chan *nats.Msg, cfg.QueueLen),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	n.all = "veil." + k.tag + ".all"
	n.self = n.inbox(n.id)
	return n, nil
}

func (n *Node) inbox(node string) string { return "veil." + n.keys.tag + ".n." + node }

// Attach connects to NATS, starts applying what the other nodes say to h,
// and returns the Bus h tells local changes to (the Node itself). An
// unreachable NATS is no error: the node serves its own peers, reports
// itself degraded (Health) and keeps trying. Once only.
func (n *Node) Attach(h *hub.Hub) (hub.Bus, error) {
	if !n.attached.CompareAndSwap(false, true) {
		return nil, ErrAttached
	}
	n.hub = h
	opts := []nats.Option{
		nats.Name("veil"), // no host, no identity: every node looks alike to NATS
		nats.NoEcho(),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ConnectHandler(func(*nats.Conn) { n.setConnected(true) }),
		nats.ReconnectHandler(func(*nats.Conn) { n.setConnected(true) }),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { n.setConnected(false) }),
		nats.ClosedHandler(func(*nats.Conn) { n.setConnected(false) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				n.m.dropped("queue-full")
				return
			}
			n.log.Warn("cluster: NATS error", "err", err)
		}),
	}
	if n.cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(n.cfg.CredsFile))
	}
	if n.cfg.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(n.cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: NKeyFile: %v", ErrInvalidConfig, err)
		}
		opts = append(opts, o)
	}
	if n.cfg.TLS != nil {
		opts = append(opts, nats.Secure(n.cfg.TLS))
	}
	nc, err := nats.Connect(strings.Join(n.cfg.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	n.nc = nc
	for _, subj := range []string{n.all, n.self} {
		if _, err := nc.ChanSubscribe(subj, n.in); err != nil {
			nc.Close()
			return nil, fmt.Errorf("cluster: subscribe: %w", err)
		}
	}
	if nc.IsConnected() {
		n.setConnected(true)
	}
	go n.loop()
	return n, nil
}

func (n *Node) setConnected(up bool) {
	if n.connected.Swap(up) == up {
		return
	}
	if up {
		n.log.Info("cluster: connected to NATS")
		select {
		case n.wake <- struct{}{}:
		default:
		}
		return
	}
	select {
	case <-n.stop:
		return // this node closed its own connection: not a loss
	default:
	}
	n.log.Warn("cluster: lost NATS; serving local peers only until it is back")
}

// Health is "" while NATS is reachable, else "cluster unreachable".
func (n *Node) Health() string {
	if n.connected.Load() {
		return ""
	}
	return "cluster unreachable"
}

// Nodes returns how many other nodes this node currently sees alive and
// in sync.
func (n *Node) Nodes() int { return int(n.m.nodes.Load()) }

// IsRelayAddr reports whether ap is at a TURN relay address another live
// node announced. Any port of that address passes: the other node's
// allocations are not known here, only its relay addresses. For
// signaling.Config.TrustedRelays, next to the local TURN server's own
// exact check.
func (n *Node) IsRelayAddr(ap netip.AddrPort) bool {
	n.rmu.RLock()
	defer n.rmu.RUnlock()
	_, ok := n.relays[ap.Addr().Unmap()]
	return ok
}

// Close tells the other nodes this node leaves (they announce its peers
// as left at once), stops applying their changes and closes the NATS
// connection. Call it after the signaling server's Shutdown. Idempotent.
func (n *Node) Close() error {
	n.close.Do(func() {
		if !n.attached.Load() {
			return
		}
		close(n.stop)
		<-n.done
		if n.nc.IsConnected() {
			n.broadcast(&message{T: tBye, At: time.Now().UnixMilli()})
			_ = n.nc.FlushTimeout(closeFlushTimeout)
		}
		n.nc.Close()
	})
	return nil
}

// loop applies what arrives from NATS, in arrival order, says this node
// is alive and takes silent nodes for dead.
func (n *Node) loop() {
	defer close(n.done)
	defer n.grantPending()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	n.heartbeat()
	for {
		select {
		case <-n.stop:
			return
		case m := <-n.in:
			n.receive(m)
		case c := <-n.claims:
			n.startClaim(c, time.Now())
		case f := <-n.fetchq:
			n.fetchOut(f)
		case y := <-n.yieldq:
			n.yield(y)
		case <-n.wake:
			n.heartbeat()
		case <-t.C:
			n.heartbeat()
			n.reap(time.Now())
			n.expireClaims(time.Now())
		}
	}
}

// heartbeat tells every node this one is alive, how far its changes went
// (Seq: a node that applied less lost some and asks for a snapshot) and
// its relay addresses.
func (n *Node) heartbeat() {
	n.lmu.Lock()
	defer n.lmu.Unlock()
	n.send(n.all, &message{T: tHeartbeat, Seq: n.seq, At: time.Now().UnixMilli(), Relays: n.cfg.RelayAddrs})
}

// broadcast sends m to every node, after this node's earlier changes.
func (n *Node) broadcast(m *message) {
	n.lmu.Lock()
	defer n.lmu.Unlock()
	n.send(n.all, m)
}

// send seals m for subject and publishes it. Broadcasts are sent with
// n.lmu held, so they leave in Seq order.
func (n *Node) send(subject string, m *message) {
	m.Node = n.id
	if err := n.nc.Publish(subject, n.keys.seal(subject, encode(m))); err != nil {
		// Buffered while NATS is away; beyond the buffer a change is
		// lost here, and the others notice the gap at the next heartbeat.
		n.m.dropped("send-failed")
		return
	}
	n.m.sent.Add(1)
}

// sendDirect sends m to one node's inbox with a fresh direct counter.
func (n *Node) sendDirect(node string, m *message) {
	m.DSeq = n.dseq.Add(1)
	n.send(n.inbox(node), m)
}

// receive opens and dispatches one message from NATS.
func (n *Node) receive(nm *nats.Msg) {
	plain, err := n.keys.open(nm.Subject, nm.Data)
	if err != nil {
		n.m.dropped("unsealed")
		return
	}
	m, err := decode(plain)
	if err != nil || m.Node == "" || m.Node == n.id {
		n.m.dropped("malformed")
		return
	}
	n.m.received.Add(1)
	if nm.Subject == n.self {
		n.direct(m)
		return
	}
	n.broadcastIn(m)
}
