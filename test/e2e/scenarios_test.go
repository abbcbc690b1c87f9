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

package e2e

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// Scenario 6: deleting a cluster with a load balancer, a VPC and workers leaves nothing in the simulator
// and no object stuck on a finalizer.
func TestClusterDeletionLeavesNothing(t *testing.T) {
	s := newScenario(t, true)
	c := s.workerCluster("doomed", ClusterOptions{LoadBalancer: true, VPCCIDR: "10.42.0.0/24"})
	md := s.machineDeployment(c, "md-0", 2)
	s.waitRunning(c, md, 2)
	s.g.Expect(h.Sim.LoadBalancers()).NotTo(BeEmpty(), "the control-plane load balancer exists")
	s.g.Expect(h.Sim.VPCs()).NotTo(BeEmpty(), "the VPC exists")

	s.deleteCluster(c)
	live := 0
	for _, vm := range h.Sim.VMs() {
		if vm.Live() {
			live++
		}
	}
	s.g.Expect(live).To(BeZero(), "servers left in the simulator")
	s.g.Expect(h.Sim.LoadBalancers()).To(BeEmpty(), "load balancers left in the simulator")
	s.g.Expect(h.Sim.VPCs()).To(BeEmpty(), "VPCs left in the simulator")
	left, err := h.Leftovers(s.ctx, s.ns)
	s.g.Expect(err).NotTo(HaveOccurred())
	s.g.Expect(left).To(BeEmpty())
}

// Scenario 3: the cluster-autoscaler's way of removing one given node: annotate its Machine with
// cluster.x-k8s.io/delete-machine, then lower the replicas by one. That server, and only it, goes.
func TestDeleteMachineAnnotation(t *testing.T) {
	s := newScenario(t, true)
	c := s.workerCluster("autoscaled", ClusterOptions{})
	md := s.machineDeployment(c, "md-0", 3)
	machines := s.waitRunning(c, md, 3)

	victim := machines[1]
	cur := &clusterv1.Machine{}
	s.g.Expect(h.Client.Get(s.ctx, client.ObjectKeyFromObject(&victim), cur)).To(Succeed())
	patch := client.MergeFrom(cur.DeepCopy())
	metav1.SetMetaDataAnnotation(&cur.ObjectMeta, clusterv1.DeleteMachineAnnotation, "")
	s.g.Expect(h.Client.Patch(s.ctx, cur, patch)).To(Succeed())
	s.g.Expect(h.ScaleMachineDeployment(s.ctx, md, 2)).To(Succeed())

	after := s.waitRunning(c, md, 2)
	for _, m := range after {
		s.g.Expect(m.Name).NotTo(Equal(victim.Name))
	}
	s.expectServersMatch(c, after)
	deleted := h.ClusterDeletedVMs(c.Namespace, c.Name)
	s.g.Expect(deleted).To(HaveLen(1))
	s.g.Expect("vpsie://" + deleted[0].Identifier).To(Equal(victim.Spec.ProviderID))
	s.deleteCluster(c)
}

// Scenario 5: the provider's manager is killed in the middle of a scale-up and started again: no server is
// created twice, and every Machine ends Running.
func TestProviderRestartDuringScaleUp(t *testing.T) {
	s := newScenario(t, true)
	c := s.workerCluster("restart", ClusterOptions{})
	md := s.machineDeployment(c, "md-0", 1)
	s.waitRunning(c, md, 1)

	s.g.Expect(h.ScaleMachineDeployment(s.ctx, md, 6)).To(Succeed())
	// Kill it once some, but not all, of the new servers were ordered.
	s.g.Eventually(func() int { return h.Sim.RequestCount("POST /api/v2/vm") }, time.Minute, 20*time.Millisecond).
		Should(BeNumerically(">=", 2))
	h.Provider.Kill()
	ordered := len(h.ClusterVMs(c.Namespace, c.Name))
	t.Logf("manager killed with %d of 6 servers ordered", ordered)
	time.Sleep(2 * time.Second)
	s.g.Expect(h.Provider.Start()).To(Succeed())

	machines := s.waitRunning(c, md, 6)
	s.expectServersMatch(c, machines)
	byHostname := map[string]int{}
	for _, vm := range append(h.ClusterVMs(c.Namespace, c.Name), h.ClusterDeletedVMs(c.Namespace, c.Name)...) {
		byHostname[vm.Hostname]++
	}
	for hostname, n := range byHostname {
		s.g.Expect(n).To(Equal(1), "servers created with hostname %s", hostname)
	}
	s.deleteCluster(c)
}

// Scenario 4: a server vanishes behind the API's back. Its Node stops reporting (Ready=Unknown), the
// provider reports the server gone in the VPSieMachine's conditions, and a MachineHealthCheck replaces the
// Machine.
func TestVanishedServerIsReplaced(t *testing.T) {
	s := newScenario(t, true)
	c := s.workerCluster("healing", ClusterOptions{})
	md := s.machineDeployment(c, "md-0", 2)
	machines := s.waitRunning(c, md, 2)
	mhc := &clusterv1.MachineHealthCheck{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: "md-0"},
		Spec: clusterv1.MachineHealthCheckSpec{
			ClusterName: c.Name,
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{
				clusterv1.MachineDeploymentNameLabel: md.Name,
			}},
			Checks: clusterv1.MachineHealthCheckChecks{UnhealthyNodeConditions: []clusterv1.UnhealthyNodeCondition{{
				// Long enough for the provider's running-server check (every 2s here) to report the server
				// gone before remediation deletes the Machine; the watch below sees it either way.
				Type: "Ready", Status: "Unknown", TimeoutSeconds: ptrInt32(10),
			}}},
		},
	}
	s.g.Expect(h.Client.Create(s.ctx, mhc)).To(Succeed())

	victim := machines[0]
	id := victim.Spec.ProviderID[len("vpsie://"):]
	// Watch the victim's VPSieMachine from before the server vanishes, so no status update is missed.
	notFound := watchServerNotFound(s, victim.Spec.InfrastructureRef.Name)
	vanished := time.Now()
	s.g.Expect(h.Sim.VanishVM(id)).To(Succeed())
	select {
	case cond := <-notFound:
		t.Logf("ServerReady=False/%s %s after the server vanished: %s", cond.Reason,
			time.Since(vanished).Round(100*time.Millisecond), cond.Message)
	case <-time.After(time.Minute):
		t.Fatalf("VPSieMachine %s never reported ServerReady=False reason %s", victim.Spec.InfrastructureRef.Name, infrav1.ServerNotFoundReason)
	}

	s.g.Eventually(func(g Gomega) {
		left, err := h.Machines(context.Background(), c, md.Name)
		g.Expect(err).NotTo(HaveOccurred())
		for _, m := range left {
			g.Expect(m.Name).NotTo(Equal(victim.Name), "the vanished server's Machine is still there")
		}
	}, 2*time.Minute, 500*time.Millisecond).Should(Succeed())
	after := s.waitRunning(c, md, 2)
	s.expectServersMatch(c, after)
	gone := 0
	for _, vm := range h.ClusterDeletedVMs(c.Namespace, c.Name) {
		if vm.State == vpsiesim.VMVanished {
			gone++
		}
	}
	s.g.Expect(gone).To(Equal(1))
	s.deleteCluster(c)
}

func ptrInt32(v int32) *int32 { return &v }

// watchServerNotFound watches the VPSieMachine name in the scenario's namespace and sends its ServerReady
// condition once it is False with reason ServerNotFound. The watch is established before it returns.
func watchServerNotFound(s *scenario, name string) <-chan metav1.Condition {
	wc, err := client.NewWithWatch(h.Env.Config, client.Options{Scheme: h.Env.Scheme})
	s.g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(s.ctx)
	s.t.Cleanup(cancel)
	w, err := wc.Watch(ctx, &infrav1.VPSieMachineList{}, client.InNamespace(s.ns),
		client.MatchingFields{"metadata.name": name})
	s.g.Expect(err).NotTo(HaveOccurred())
	found := make(chan metav1.Condition, 1)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			vm, ok := ev.Object.(*infrav1.VPSieMachine)
			if !ok {
				continue
			}
			if c := conditions.Get(vm, infrav1.ServerReadyCondition); c != nil &&
				c.Status == metav1.ConditionFalse && c.Reason == infrav1.ServerNotFoundReason {
				found <- *c
				return
			}
		}
	}()
	return found
}
