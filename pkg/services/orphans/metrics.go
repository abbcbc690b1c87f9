/*
Copyright 2026 The cluster-api-provider-vpsie Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package orphans

import "github.com/prometheus/client_golang/prometheus"

// Actions of capvpsie_orphans_found_total.
const (
	actionReported = "reported"
	actionDeleted  = "deleted"
	actionFailed   = "failed"
)

// Operations of capvpsie_orphan_sweep_errors_total.
const (
	opListKubernetes  = "list_kubernetes"
	opAccount         = "account"
	opListVMs         = "list_vms"
	opGetVM           = "get_vm"
	opDeleteVM        = "delete_vm"
	opListVPCs        = "list_vpcs"
	opDeleteVPC       = "delete_vpc"
	opListLBs         = "list_load_balancers"
	opDeleteLB        = "delete_load_balancer"
	opListFirewalls   = "list_firewall_groups"
	opDeleteFirewall  = "delete_firewall_group"
	opInvalidSettings = "options"
)

var (
	// orphansFound counts orphans each pass found, by kind and by what was done about them. In report mode an
	// orphan is counted again at every pass until someone removes it: the rate tells that leaks are waiting.
	orphansFound = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capvpsie_orphans_found_total",
		Help: "Orphaned VPSie resources (owner object gone longer than the grace period) found by the orphan sweep, " +
			"by kind (server, vpc, loadBalancer) and action (reported, deleted, failed).",
	}, []string{"kind", "action"})
	// sweepErrors counts what went wrong during passes, by operation. A failed list skips the account's pass.
	sweepErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capvpsie_orphan_sweep_errors_total",
		Help: "Errors of the orphan sweep by operation (list_vms, get_vm, delete_vm, list_vpcs, delete_vpc, " +
			"list_load_balancers, delete_load_balancer, account, list_kubernetes, options).",
	}, []string{"operation"})
	// lastSweep is when the last pass that listed the Kubernetes objects ended, to alert on a sweep that stopped.
	lastSweep = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "capvpsie_orphan_sweep_last_run_timestamp_seconds",
		Help: "Unix time at which the last orphan sweep pass ended.",
	})
)

// Collectors are the metrics of the orphan sweep, for registration with the manager's registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{orphansFound, sweepErrors, lastSweep}
}
