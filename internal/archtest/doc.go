// Package archtest holds no code: its tests check the package graph and
// the adapter layout that docs/development.md and the design describe, so
// that a change which breaks them fails `go test` instead of a review.
package archtest
