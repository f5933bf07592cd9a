// Package deploy tests what the project ships rather than its Go code: the
// image build, the kustomize manifests in config/, the Helm chart in
// charts/pve-operator, the RBAC security model (with the operator running
// under exactly the shipped permissions) and the Argo CD health checks in
// config/argocd. It has no non-test code; it knows nothing about how the
// controllers work beyond the status they publish.
package deploy
