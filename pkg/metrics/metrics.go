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

// Package metrics holds the provider's own Prometheus metrics (the VPSie client's are in pkg/vpsie):
// server life-cycle durations, errors by class and machines by state.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
)

var (
	// ServerCreates counts create calls VPSie accepted.
	ServerCreates = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "capvpsie_server_creates_total",
		Help: "Server create calls VPSie accepted.",
	})
	// ServerDeletes counts delete calls VPSie accepted.
	ServerDeletes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "capvpsie_server_deletes_total",
		Help: "Server delete calls VPSie accepted.",
	})
	// ServerAdoptions counts servers found by hostname instead of created (after a lost answer or a restart).
	ServerAdoptions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "capvpsie_server_adoptions_total",
		Help: "Servers found by their hostname and adopted instead of created.",
	})
	// DuplicateServers counts servers found sharing a machine's hostname with the one it adopted: each is a
	// second server for one machine (deleting the machine deletes them all). It should stay zero.
	DuplicateServers = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "capvpsie_server_duplicates_seen_total",
		Help: "Servers seen sharing a machine's hostname with the server it adopted (should stay zero).",
	})
	// ProvisioningDuration observes the time from VPSieMachine creation to a running server.
	ProvisioningDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "capvpsie_server_provisioning_duration_seconds",
		Help:    "Time from a VPSieMachine's creation to its server running with an address.",
		Buckets: []float64{15, 30, 60, 90, 120, 180, 300, 600, 1200, 1800},
	})
	// DeletionDuration observes the time from a VPSieMachine's deletion to its server being gone.
	DeletionDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "capvpsie_server_deletion_duration_seconds",
		Help:    "Time from a VPSieMachine's deletion timestamp to VPSie confirming its server is gone.",
		Buckets: []float64{5, 15, 30, 60, 120, 300, 600, 1200},
	})
	// ReconcileErrors counts reconcile errors by controller and error class.
	ReconcileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capvpsie_reconcile_errors_total",
		Help: "Reconcile errors by controller and class (Transient, RateLimited, Terminal, Unauthorized, NotFound).",
	}, []string{"controller", "class"})
	machinesByState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "capvpsie_machines",
		Help: "VPSieMachines by server state as last reconciled.",
	}, []string{"state"})
)

// Collectors are every metric of this package.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{ServerCreates, ServerDeletes, ServerAdoptions, DuplicateServers, ProvisioningDuration,
		DeletionDuration, ReconcileErrors, machinesByState}
}

// MachineStates tracks each machine's state to keep the capvpsie_machines gauge exact.
var MachineStates = &stateTracker{states: map[types.NamespacedName]string{}}

type stateTracker struct {
	mu     sync.Mutex
	states map[types.NamespacedName]string
}

// Set records a machine's state; an empty state forgets the machine.
func (t *stateTracker) Set(machine types.NamespacedName, state string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.states[machine]; ok {
		if old == state {
			return
		}
		machinesByState.WithLabelValues(old).Dec()
		delete(t.states, machine)
	}
	if state != "" {
		t.states[machine] = state
		machinesByState.WithLabelValues(state).Inc()
	}
}

// ObserveSince records a duration since start in h, ignoring unknown starts.
func ObserveSince(h prometheus.Observer, start time.Time) {
	if !start.IsZero() {
		h.Observe(time.Since(start).Seconds())
	}
}
