// Package auth mints and verifies veil's operator tokens: HS256 JWTs whose
// [Grant] allows join, publish or play on one room, one stream or every
// name with a prefix, until exp.
//
// # Overview
//
// An operator's backend calls [Mint] with the server's secret
// (signaling.Config.AuthSecret, or `veil token`) and hands the token to its
// client; the signaling server calls [Verify] and [Grant.Allows] before a
// join, publish or play. Only HS256 is accepted, exp is required, and a
// token is bounded in size ([MaxTokenBytes]) before it is parsed.
//
// # Concurrency
//
// Every function is safe for concurrent use; the package holds no state.
package auth
