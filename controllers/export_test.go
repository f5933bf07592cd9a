package controllers

// ClaimsFirst exposes the uniqueness order to the black-box tests, so they
// expect the winner the operator picks instead of assuming creation order.
var ClaimsFirst = claimsFirst

// GatherMetric lets the black-box tests read the operator's metrics the way
// the white-box metrics tests do.
var GatherMetric = gatherMetric

// HostUnavailableMessage is the message of a refused host reference, for
// the specs that check a missing host and an excluding one read alike.
func HostUnavailableMessage(host, namespace string) string {
	return hostUnavailable(host, namespace).message
}
