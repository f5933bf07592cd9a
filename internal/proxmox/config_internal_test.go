package proxmox

import "testing"

func TestTLSConfig(t *testing.T) {
	t.Run("verification is on and TLS 1.2 is the floor by default", func(t *testing.T) {
		tc, err := Config{}.tlsConfig()
		if err != nil || tc.InsecureSkipVerify || tc.MinVersion < 0x0303 || tc.RootCAs != nil {
			t.Fatalf("tlsConfig() = %+v, %v", tc, err)
		}
	})
	t.Run("a CA bundle without certificates is an error", func(t *testing.T) {
		if _, err := (Config{CABundle: []byte("not a pem")}).tlsConfig(); err == nil {
			t.Fatal("garbage CA bundle accepted")
		}
	})
}

func TestCredentialsValidation(t *testing.T) {
	tests := []struct {
		name string
		c    Credentials
		ok   bool
	}{
		{"a token with a secret", Credentials{TokenID: "root@pam!op", TokenSecret: "s"}, true},
		{"a user with a password", Credentials{Username: "root@pam", Password: "p"}, true},
		{"a token without a secret", Credentials{TokenID: "root@pam!op"}, false},
		{"a token ID without a token name", Credentials{TokenID: "root@pam", TokenSecret: "s"}, false},
		{"nothing", Credentials{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.validate(); (err == nil) != tt.ok {
				t.Fatalf("validate() = %v", err)
			}
		})
	}
}
