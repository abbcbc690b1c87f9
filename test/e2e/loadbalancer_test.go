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
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// Scenario 7: with a control-plane load balancer, control-plane machines appear as its backends (workers
// never) and leave it when deleted.
//
// There is no control-plane provider here, so the control-plane Machines are created directly, as a
// control-plane provider would create them: a VPSieMachine and a Machine labelled
// cluster.x-k8s.io/control-plane, using the cluster's bootstrap Secret; Cluster API's Machine controller sets
// the VPSieMachine's owner reference and reconciles them. The workload cluster's API server is the local one,
// so the harness still reports the control plane initialized (see MarkControlPlaneInitialized).
//
// Deleting a control-plane Machine without a control-plane provider: Cluster API's Machine controller does not
// refuse it; it only skips draining and deleting the Node when no other control-plane Machine remains
// (isDeleteNodeAllowed: errNoControlPlaneNodes). The test deletes one of three, so the ordinary path runs
// (drain, Node deletion, then the VPSieMachine: load balancer backend out, then the server).
func TestControlPlaneLoadBalancerBackends(t *testing.T) {
	s := newScenario(t, true)
	c := s.workerCluster("lb", ClusterOptions{LoadBalancer: true})
	s.g.Eventually(func() []vpsiesim.LoadBalancer { return h.Sim.LoadBalancers() }, timeoutShort, 250*time.Millisecond).
		Should(HaveLen(1), "the control-plane load balancer exists")

	const controlPlanes = 3
	for i := range controlPlanes {
		s.g.Expect(h.CreateControlPlaneMachine(s.ctx, c, fmt.Sprintf("%s-cp-%d", c.Name, i))).To(Succeed())
	}
	md := s.machineDeployment(c, "md-0", 1)
	all := s.waitRunning(c, nil, controlPlanes+1)
	workers, err := h.Machines(s.ctx, c, md.Name)
	s.g.Expect(err).NotTo(HaveOccurred())
	s.g.Expect(workers).To(HaveLen(1))
	s.expectServersMatch(c, all)

	cps := controlPlaneMachines(all)
	s.g.Expect(cps).To(HaveLen(controlPlanes))
	for _, m := range cps {
		vm := &infrav1.VPSieMachine{}
		s.g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: c.Namespace, Name: m.Spec.InfrastructureRef.Name}, vm)).To(Succeed())
		s.g.Expect(metav1.IsControlledBy(vm, &m)).To(BeTrue(), "Cluster API made Machine %s the VPSieMachine's controller", m.Name)
		s.g.Expect(conditions.IsTrue(vm, infrav1.LoadBalancerBackendCondition)).To(BeTrue(), "VPSieMachine %s is a backend", vm.Name)
	}
	s.g.Eventually(lbBackends, timeoutShort, 250*time.Millisecond).Should(Equal(serverIDs(cps)),
		"load balancer backends are exactly the control-plane servers")
	s.g.Expect(lbBackends()).NotTo(ContainElement(serverID(workers[0])), "a worker is never a backend")
	workerVM := &infrav1.VPSieMachine{}
	s.g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: c.Namespace, Name: workers[0].Spec.InfrastructureRef.Name}, workerVM)).To(Succeed())
	s.g.Expect(conditions.Get(workerVM, infrav1.LoadBalancerBackendCondition)).To(BeNil(), "a worker has no backend condition")

	// Delete one control-plane Machine; two remain.
	victim := cps[0]
	s.g.Expect(h.Client.Delete(s.ctx, &victim)).To(Succeed())
	s.g.Eventually(func() bool {
		err := h.Client.Get(s.ctx, client.ObjectKeyFromObject(&victim), &clusterv1.Machine{})
		return apierrors.IsNotFound(err)
	}, timeoutLong, 250*time.Millisecond).Should(BeTrue(), "control-plane Machine %s is gone", victim.Name)

	after := s.waitRunning(c, nil, controlPlanes)
	s.expectServersMatch(c, after)
	s.g.Expect(lbBackends()).To(Equal(serverIDs(controlPlaneMachines(after))), "the deleted machine left the load balancer")
	deleted := h.ClusterDeletedVMs(c.Namespace, c.Name)
	s.g.Expect(deleted).To(HaveLen(1))
	s.g.Expect(deleted[0].Identifier).To(Equal(serverID(victim)), "the deleted Machine's server, and only it, is gone")

	s.deleteCluster(c)
	s.g.Expect(h.Sim.LoadBalancers()).To(BeEmpty(), "load balancers left in the simulator")
}

// CreateControlPlaneMachine creates a control-plane Machine and its VPSieMachine the way a control-plane
// provider would, using the cluster's bootstrap Secret.
func (h *Harness) CreateControlPlaneMachine(ctx context.Context, c *Cluster, name string) error {
	vm := &infrav1.VPSieMachine{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: name,
		Labels: map[string]string{clusterv1.ClusterNameLabel: c.Name, clusterv1.MachineControlPlaneLabel: ""}}}
	vm.Spec.Plan = vpsiesim.DefaultPlan
	vm.Spec.Image = vpsiesim.DefaultImage
	if err := h.Client.Create(ctx, vm); err != nil {
		return fmt.Errorf("creating VPSieMachine %s: %w", name, err)
	}
	m := &clusterv1.Machine{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: name,
			Labels: map[string]string{clusterv1.ClusterNameLabel: c.Name, clusterv1.MachineControlPlaneLabel: ""}},
		Spec: clusterv1.MachineSpec{
			ClusterName: c.Name,
			Bootstrap:   clusterv1.Bootstrap{DataSecretName: ptr.To(c.BootstrapSecret)},
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{
				APIGroup: infrav1.GroupVersion.Group, Kind: "VPSieMachine", Name: name,
			},
		},
	}
	if err := h.Client.Create(ctx, m); err != nil {
		return fmt.Errorf("creating Machine %s: %w", name, err)
	}
	return nil
}

func controlPlaneMachines(machines []clusterv1.Machine) []clusterv1.Machine {
	var out []clusterv1.Machine
	for _, m := range machines {
		if _, ok := m.Labels[clusterv1.MachineControlPlaneLabel]; ok {
			out = append(out, m)
		}
	}
	return out
}

func serverID(m clusterv1.Machine) string {
	return strings.TrimPrefix(m.Spec.ProviderID, infrav1.ProviderIDPrefix)
}

// serverIDs are the Machines' server identifiers, sorted.
func serverIDs(machines []clusterv1.Machine) []string {
	out := make([]string, 0, len(machines))
	for _, m := range machines {
		out = append(out, serverID(m))
	}
	sort.Strings(out)
	return out
}

// lbBackends are the vmIdentifiers of the backends of every rule of every load balancer in the simulator,
// sorted (a server behind two rules shows twice).
func lbBackends() []string {
	out := []string{}
	for _, lb := range h.Sim.LoadBalancers() {
		for _, r := range lb.Rules {
			for _, b := range r.Backends {
				out = append(out, b.VMIdentifier)
			}
		}
	}
	sort.Strings(out)
	return out
}
