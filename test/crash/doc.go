// Package crash holds the crash-consistency test: the manager binary is
// SIGKILLed at seeded random moments and restarted, and the data invariants
// must hold afterwards.
package crash
