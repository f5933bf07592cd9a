// Package failover runs two replicas of the manager binary with leader
// election against one apiserver and one simulated Proxmox cluster,
// SIGKILLs the leader in the middle of its work and checks that the
// standby takes over and finishes it without doing any Proxmox work twice.
package failover
