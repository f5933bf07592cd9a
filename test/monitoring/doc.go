// Package monitoring tests the monitoring the project ships for the
// operator: the Prometheus alerting rules in config/prometheus/rules.yaml
// (evaluated once a minute by Prometheus' own PromQL engine, with the
// alerts' "for", as promtool's rule unit tests do), their runbook links
// into docs/troubleshooting.md, the Grafana dashboard in
// config/prometheus/dashboard.json, the ServiceMonitor, and the Helm chart
// templates that render the same objects. It needs no apiserver. It has no
// non-test code.
package monitoring
