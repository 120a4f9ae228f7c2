package experiment

// chaosk8sCatalogue lists the chaostoolkit-kubernetes (module chaosk8s, version 0.39) functions
// an experiment may name in a python provider: module -> function -> argument names. The
// `secrets` and `configuration` arguments, which chaoslib passes itself, are left out.
func chaosk8sCatalogue() map[string]map[string][]string {
	return map[string]map[string][]string{
		"chaosk8s.pod.probes": {
			"pods_in_phase":        {"label_selector", "phase", "ns", "raise_on_invalid_phase"},
			"pods_in_conditions":   {"label_selector", "conditions", "ns", "raise_on_invalid_conditions"},
			"pods_not_in_phase":    {"label_selector", "phase", "ns", "raise_on_in_phase"},
			"read_pod_logs":        {"name", "last", "ns", "from_previous", "label_selector", "container_name"},
			"count_pods":           {"label_selector", "phase", "ns"},
			"pod_is_not_available": {"name", "ns", "label_selector", "raise_on_is_available"},
			"all_pods_healthy":     {"ns", "raise_on_any_unhealthy"},
			"count_min_pods":       {"label_selector", "phase", "min_count", "ns"},
		},
		"chaosk8s.pod.actions": {
			"terminate_pods": {"label_selector", "name_pattern", "all", "rand", "mode", "qty", "grace_period", "ns", "order"},
			"exec_in_pods":   {"cmd", "label_selector", "name_pattern", "all", "rand", "mode", "qty", "ns", "order", "container_name", "request_timeout"},
			"delete_pods":    {"name", "ns", "label_selector"},
		},
		"chaosk8s.networking.actions": {
			"create_ingress":          {"spec_path", "ns"},
			"delete_ingress":          {"name", "ns"},
			"update_ingress":          {"name", "spec", "ns"},
			"create_network_policy":   {"spec", "spec_path", "ns"},
			"remove_network_policy":   {"name", "ns"},
			"deny_all_ingress":        {"label_selectors", "ns"},
			"remove_deny_all_ingress": {"ns"},
			"deny_all_egress":         {"label_selectors", "ns"},
			"remove_deny_all_egress":  {"ns"},
			"allow_dns_access":        {"label_selectors", "ns"},
			"remove_allow_dns_access": {"ns"},
		},
		"chaosk8s.deployment.actions": {
			"create_deployment":  {"spec_path", "ns"},
			"delete_deployment":  {"name", "ns", "label_selector"},
			"scale_deployment":   {"name", "replicas", "ns"},
			"rollout_deployment": {"name", "ns"},
			"update_image":       {"name", "image", "ns", "container_name"},
		},
		"chaosk8s.deployment.probes": {
			"deployment_available_and_healthy": {"name", "ns", "label_selector", "raise_on_unavailable"},
			"deployment_partially_available":   {"name", "ns", "label_selector", "raise_on_not_partially_available"},
			"deployment_not_fully_available":   {"name", "ns", "label_selector", "timeout", "raise_on_fully_available"},
			"deployment_fully_available":       {"name", "ns", "label_selector", "timeout", "raise_on_not_fully_available"},
		},
		"chaosk8s.service.actions": {
			"create_service_endpoint": {"spec_path", "ns"},
			"delete_service":          {"name", "ns"},
		},
		"chaosk8s.service.probes": {
			"service_is_initialized": {"name", "ns", "label_selector", "raise_if_service_not_initialized"},
		},
		"chaosk8s.node.actions": {
			"create_node":   {"meta", "spec"},
			"delete_nodes":  {"label_selector", "all", "rand", "count", "grace_period_seconds", "pod_label_selector", "pod_namespace"},
			"cordon_node":   {"name", "label_selector"},
			"uncordon_node": {"name", "label_selector"},
			"drain_nodes":   {"name", "label_selector", "delete_pods_with_local_storage", "timeout", "count", "pod_label_selector", "pod_namespace"},
		},
		"chaosk8s.node.probes": {
			"get_nodes":                           {"label_selector"},
			"all_nodes_must_be_ready_to_schedule": {},
			"get_all_node_status_conditions":      {},
		},
		"chaosk8s.probes": {
			"all_microservices_healthy":          {"ns"},
			"microservice_available_and_healthy": {"name", "ns", "label_selector"},
			"microservice_is_not_available":      {"name", "ns", "label_selector"},
			"service_endpoint_is_initialized":    {"name", "ns", "label_selector"},
			"deployment_is_not_fully_available":  {"name", "ns", "label_selector", "timeout"},
			"deployment_is_fully_available":      {"name", "ns", "label_selector", "timeout"},
			"read_microservices_logs":            {"name", "last", "ns"},
		},
		"chaosk8s.actions": {
			"start_microservice":      {"spec_path", "ns"},
			"kill_microservice":       {"name", "ns", "label_selector"},
			"remove_service_endpoint": {"name", "ns"},
			"scale_microservice":      {"name", "replicas", "ns"},
		},
	}
}
