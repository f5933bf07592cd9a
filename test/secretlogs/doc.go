// Package secretlogs runs the manager at the most verbose logging it can be
// asked for, against a real apiserver and the simulated Proxmox cluster,
// has it read every kind of credential Secret (API token, root@pam
// password, SSH private key, an Application's root password) and fails if
// any of them, in clear, base64 or a protobuf hex dump, reaches its log.
package secretlogs
