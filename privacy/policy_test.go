package privacy

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultPolicyJSON(t *testing.T) {
	p := DefaultPolicy()
	require.NoError(t, p.Validate())
	b, err := json.Marshal(p)
	require.NoError(t, err)
	// The wire object other implementations read: field names, order and
	// values are part of the protocol.
	assert.JSONEq(t, `{"relay":"force","sysinfo":"strip","sealed":"deny","retention":"none","logs":"redacted"}`, string(b))

	var back Policy
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, p, back)
}

func TestParsePolicies(t *testing.T) {
	for _, tc := range []struct {
		in      string
		relay   RelayPolicy
		sysinfo SysinfoPolicy
		sealed  SealedPolicy
	}{
		{in: "force", relay: RelayForce},
		{in: " Optional ", relay: RelayOptional},
		{in: "OFF", relay: RelayOff},
		{in: "strip", sysinfo: SysinfoStrip},
		{in: "pass", sysinfo: SysinfoPass},
		{in: "deny", sealed: SealedDeny},
		{in: "Allow", sealed: SealedAllow},
		{in: ""},
		{in: "forced"},
		{in: "on"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := ParseRelayPolicy(tc.in)
			if tc.relay == "" {
				assert.ErrorIs(t, err, ErrBadPolicy)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.relay, r)
			}
			s, err := ParseSysinfoPolicy(tc.in)
			if tc.sysinfo == "" {
				assert.ErrorIs(t, err, ErrBadPolicy)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.sysinfo, s)
			}
			d, err := ParseSealedPolicy(tc.in)
			if tc.sealed == "" {
				assert.ErrorIs(t, err, ErrBadPolicy)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.sealed, d)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Policy)
		ok     bool
	}{
		{"default", func(*Policy) {}, true},
		{"optional pass allow", func(p *Policy) { p.Relay, p.Sysinfo, p.Sealed = RelayOptional, SysinfoPass, SealedAllow }, true},
		{"off", func(p *Policy) { p.Relay = RelayOff }, true},
		{"zero relay", func(p *Policy) { p.Relay = "" }, false},
		{"upper relay", func(p *Policy) { p.Relay = "FORCE" }, false},
		{"bad sysinfo", func(p *Policy) { p.Sysinfo = "keep" }, false},
		{"bad sealed", func(p *Policy) { p.Sealed = "" }, false},
		{"retention promised", func(p *Policy) { p.Retention = "30d" }, false},
		{"logs full", func(p *Policy) { p.Logs = LogsFull }, true},
		{"logs verbose", func(p *Policy) { p.Logs = "verbose" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPolicy()
			tc.mutate(&p)
			err := p.Validate()
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrBadPolicy)
			}
		})
	}
	assert.ErrorIs(t, Policy{}.Validate(), ErrBadPolicy)
}

func TestPolicyDecisions(t *testing.T) {
	for _, tc := range []struct {
		relay       RelayPolicy
		sealed      SealedPolicy
		asked       bool
		forces      bool
		allowSealed bool
	}{
		{RelayForce, SealedDeny, false, true, false},
		{RelayForce, SealedDeny, true, true, false},
		{RelayForce, SealedAllow, false, true, true},
		{RelayOptional, SealedDeny, false, false, true},
		{RelayOptional, SealedDeny, true, true, false},
		{RelayOptional, SealedAllow, true, true, true},
		{RelayOff, SealedDeny, true, false, true},
		{RelayOff, SealedDeny, false, false, true},
		{"", SealedDeny, false, true, false},        // zero value fails secure
		{"garbage", SealedDeny, false, true, false}, // so does a corrupted one
	} {
		p := DefaultPolicy()
		p.Relay, p.Sealed = tc.relay, tc.sealed
		assert.Equal(t, tc.forces, p.ForcesRelay(tc.asked), "ForcesRelay %+v", tc)
		assert.Equal(t, tc.allowSealed, p.AllowsSealed(tc.asked), "AllowsSealed %+v", tc)
	}
	assert.True(t, DefaultPolicy().StripsSysinfo())
	assert.True(t, Policy{}.StripsSysinfo())
	assert.False(t, Policy{Sysinfo: SysinfoPass}.StripsSysinfo())
}
