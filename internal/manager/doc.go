// Package manager builds the controller-runtime manager with every
// pve-operator controller registered. cmd/manager and the `make dev`
// environment both use it, so what runs in development is what ships.
package manager
