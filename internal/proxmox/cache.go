package proxmox

import "sync"

// Cache keeps one client per key (such as a ProxmoxHost name) so reconciles
// reuse connections, rate limits and semaphores instead of building a client
// each time. A client is rebuilt only when its fingerprint changes.
type Cache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
	build   func(Config) (*APIClient, error)
}

type cacheEntry struct {
	fingerprint string
	client      *APIClient
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{entries: map[string]cacheEntry{}, build: New}
}

// Get returns the client cached under key while Fingerprint(cfg, version) is
// unchanged, and builds (and caches) a new one otherwise. version is any
// string that changes whenever the inputs change, typically the
// resourceVersions of the host object and its credentials Secret; the config
// itself, secrets included, is part of the fingerprint too.
//
// A replaced client is closed; callers holding it may finish in-flight calls.
func (c *Cache) Get(key, version string, cfg Config) (*APIClient, error) {
	fp := Fingerprint(cfg, version)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && e.fingerprint == fp {
		return e.client, nil
	}
	cl, err := c.build(cfg)
	if err != nil {
		return nil, err
	}
	if old, ok := c.entries[key]; ok {
		old.client.Close()
	}
	c.entries[key] = cacheEntry{fingerprint: fp, client: cl}
	return cl, nil
}

// Forget drops (and closes) the client cached under key, e.g. when the host
// object is deleted.
func (c *Cache) Forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		e.client.Close()
		delete(c.entries, key)
	}
}

// Len returns the number of cached clients.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
