// Package testenv starts a real kube-apiserver and etcd (controller-runtime's
// envtest) with this project's CRDs installed, for tests. It knows where the
// binaries and CRDs live in this repository and nothing about controllers.
package testenv
