package turn

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerIsACollector: a Server registers in any registry and reports
// its Stats at scrape time, so an embedder's /metrics shows what veil's does.
func TestServerIsACollector(t *testing.T) {
	ts := startServer(t, nil)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(ts.srv))

	allocate(t, newClient(t, ts.udpAddr, ts.srv.Credentials("peer-a")))

	mfs, err := reg.Gather()
	require.NoError(t, err)
	names := make(map[string]int)
	for _, mf := range mfs {
		names[mf.GetName()] = len(mf.GetMetric())
		if mf.GetName() == "veil_turn_allocations" {
			assert.InDelta(t, 1, mf.GetMetric()[0].GetGauge().GetValue(), 0, "read from Stats at scrape time")
		}
	}
	assert.Equal(t, 1, names["veil_turn_allocations"])
	assert.Equal(t, 1, names["veil_turn_allocations_total"])
	assert.Equal(t, len(RefusalReasons), names["veil_turn_refused_total"], "one series per refusal reason")
}
