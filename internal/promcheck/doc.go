// Package promcheck checks Grafana dashboards against a real Prometheus: it starts Debian's (or
// any) prometheus binary on loopback with a given scrape configuration and a temporary storage
// folder (Start), queries it over its HTTP API (Server.Query, Server.LabelValues), and reads a
// dashboard's PromQL queries with its template variables expanded the way Grafana expands them
// (LoadDashboard, Expander). Tests use it to prove that every panel of a shipped dashboard finds
// data in what the services really export.
package promcheck
