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

// Command demo runs the provider end to end against the VPSie simulator (`make demo`) on the e2e suite's
// harness: a local control plane with kube-controller-manager, kube-scheduler and kwok, Cluster API's core,
// kubeadm bootstrap and KubeadmControlPlane controllers, the provider's manager and the simulator. It creates a
// cluster from the default flavor (templates/cluster-template.yaml as clusterctl renders it: a load balancer,
// one KCP control-plane Machine, a worker MachineDeployment), scales the workers 2 -> 5 -> 1, deletes the
// cluster, and prints progress and a summary. Everything is cleaned up on exit or Ctrl-C.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/e2e"
)

func main() {
	ctrl.SetLogger(zap.New(zap.WriteTo(discard{})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case err != nil && interrupted:
		fmt.Fprintln(os.Stderr, "demo interrupted; everything it started is stopped and removed")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func say(format string, args ...any) {
	fmt.Printf("[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context) error {
	start := time.Now()
	say("building the provider and starting the management cluster (first run: builds take minutes)")
	h, err := e2e.Start(e2e.Options{Logf: say})
	if err != nil {
		return err
	}
	defer func() {
		say("cleaning up: stopping the provider, Cluster API, the simulator and the control plane")
		h.Stop()
	}()
	say("management cluster ready; inspect it while the demo runs: export KUBECONFIG=%s", h.KubeconfigPath)
	say("provider log: %s", h.Provider.LogPath)

	ns, err := h.CreateNamespace(ctx, "demo")
	if err != nil {
		return err
	}
	c, err := h.CreateFlavorCluster(ctx, ns, "demo", "cluster-template.yaml")
	if err != nil {
		return err
	}
	say("created Cluster %s/demo from the default flavor (load balancer, KubeadmControlPlane, 2 workers)", ns)
	md := &clusterv1.MachineDeployment{}
	if err := h.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-md-0"}, md); err != nil {
		return err
	}
	for _, n := range []int32{2, 5, 1} {
		if err := h.ScaleMachineDeployment(ctx, md, n); err != nil {
			return err
		}
		say("MachineDeployment %s scaled to %d", md.Name, n)
		if err := watch(ctx, h, c, md.Name, int(n)); err != nil {
			return err
		}
	}
	say("deleting the cluster")
	if err := h.DeleteCluster(ctx, c); err != nil {
		return err
	}
	created := len(h.ClusterVMs(ns, c.Name)) + len(h.ClusterDeletedVMs(ns, c.Name))
	deleted := len(h.ClusterDeletedVMs(ns, c.Name))
	fmt.Println()
	fmt.Println("Summary")
	fmt.Printf("  servers created: %d, deleted: %d, left: %d\n", created, deleted, len(h.ClusterVMs(ns, c.Name)))
	fmt.Printf("  load balancers left: %d, VPCs left: %d\n", len(h.Sim.LoadBalancers()), len(h.Sim.VPCs()))
	fmt.Printf("  VPSie API calls: %d (%.1f per server)\n", h.Sim.TotalRequests(), float64(h.Sim.TotalRequests())/float64(max(created, 1)))
	fmt.Printf("  time: %s\n", time.Since(start).Round(time.Second))
	return nil
}

// watch prints the Machines' phases and the simulator's servers while waiting for n Running Machines.
func watch(ctx context.Context, h *e2e.Harness, c *e2e.Cluster, md string, n int) error {
	done := make(chan error, 1)
	go func() { _, err := h.WaitMachinesRunning(ctx, c, md, n); done <- err }()
	last := ""
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				machines, _ := h.Machines(ctx, c, md)
				say("%s; %d servers in the simulator", e2e.MachinesSummary(machines), len(h.ClusterVMs(c.Namespace, c.Name)))
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			machines, err := h.Machines(ctx, c, md)
			if err != nil {
				continue
			}
			line := fmt.Sprintf("%s; %d servers in the simulator", e2e.MachinesSummary(machines), len(h.ClusterVMs(c.Namespace, c.Name)))
			if line != last {
				say("%s", line)
				last = line
			}
		}
	}
}
