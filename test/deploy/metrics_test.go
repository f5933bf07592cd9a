package deploy

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// The metrics endpoint, as deployed (HTTPS, --metrics-secure), lets in only
// tokens the apiserver authenticates and authorizes for GET /metrics: what
// the metrics-reader ClusterRole grants a Prometheus ServiceAccount.
func TestMetricsEndpointNeedsAnAuthorizedToken(t *testing.T) {
	o := runningOperator(t)
	if !o.opts.SecureMetrics {
		t.Fatal("the Deployment turns --metrics-secure off")
	}
	ctx := t.Context()
	admin := adminClient(t)
	cs := kubernetes.NewForConfigOrDie(controlPlane(t).Config)
	ns := createNamespace(t, admin, nil)

	token := func(sa string) string {
		t.Helper()
		if err := admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	prometheus, stranger := token("prometheus"), token("stranger")
	if err := admin.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-prometheus-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pve-operator-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: ns}},
	}); err != nil {
		t.Fatal(err)
	}

	get := func(token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "https://"+o.metricsAddr+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		// The manager serves a self-signed certificate, as ServiceMonitors expect.
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	for _, c := range []struct {
		who, token string
		want       int
	}{
		{"without a token", "", http.StatusUnauthorized},
		{"with a token not allowed GET /metrics", stranger, http.StatusForbidden},
		{"with a metrics-reader token", prometheus, http.StatusOK},
	} {
		t.Run(c.who, func(t *testing.T) {
			code, body := get(c.token)
			if code != c.want {
				hint := ""
				if code == http.StatusOK {
					hint = ": metrics are served without authentication; internal/manager must set metricsserver.Options.FilterProvider = filters.WithAuthenticationAndAuthorization"
				}
				t.Fatalf("status %d, want %d%s", code, c.want, hint)
			}
			if c.want == http.StatusOK && !strings.Contains(body, "controller_runtime_reconcile_total") {
				t.Errorf("no controller metrics in the answer: %s", firstLines(body, 5))
			}
		})
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return fmt.Sprint(lines)
}
