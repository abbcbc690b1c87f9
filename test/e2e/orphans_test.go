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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
)

// The orphan sweep, in the real manager: a cluster whose VPSieCluster and VPSieMachines were force-deleted
// (finalizers removed while the Cluster was paused, so no controller deleted anything) leaves servers, a load
// balancer and a VPC; the sweep deletes them once the grace is over, and leaves another live cluster alone.
func TestOrphanSweepDeletesWhatForceDeletedObjectsLeft(t *testing.T) {
	s := newScenario(t, true)
	output := h.Provider.Capture()
	h.Provider.SetExtraFlags([]string{"--orphan-sweep-grace", "3s", "--orphan-sweep-interval", "1s"})
	s.g.Expect(h.restartProvider()).To(Succeed())
	t.Cleanup(func() {
		h.Provider.SetExtraFlags(nil)
		if err := h.restartProvider(); err != nil {
			t.Errorf("restarting the manager with the harness's flags: %v", err)
		}
	})

	kept := s.workerCluster("kept", ClusterOptions{})
	keptMD := s.machineDeployment(kept, "kept-md", 1)
	doomed := s.workerCluster("forced", ClusterOptions{LoadBalancer: true, VPCCIDR: "10.43.0.0/24"})
	md := s.machineDeployment(doomed, "forced-md", 2)
	s.waitRunning(doomed, md, 2)
	s.waitRunning(kept, keptMD, 1)
	keptServers := h.ClusterVMs(kept.Namespace, kept.Name)

	vc := &infrav1.VPSieCluster{}
	s.g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: doomed.Namespace, Name: doomed.Name}, vc)).To(Succeed())
	resourceName := scope.ClusterResourceName(vc.Annotations[infrav1.OwnerIdentityAnnotation], doomed.Namespace, doomed.Name)
	s.g.Expect(h.Sim.LoadBalancersByName(resourceName)).To(HaveLen(1))

	// Pause the Cluster, so no controller acts, and force-delete its provider objects.
	cluster := &clusterv1.Cluster{}
	s.g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: doomed.Namespace, Name: doomed.Name}, cluster)).To(Succeed())
	patch := client.MergeFrom(cluster.DeepCopy())
	cluster.Spec.Paused = ptrBool(true)
	s.g.Expect(h.Client.Patch(s.ctx, cluster, patch)).To(Succeed())
	machines := &infrav1.VPSieMachineList{}
	s.g.Expect(h.Client.List(s.ctx, machines, client.InNamespace(doomed.Namespace),
		client.MatchingLabels{clusterv1.ClusterNameLabel: doomed.Name})).To(Succeed())
	s.g.Expect(machines.Items).To(HaveLen(2))
	for i := range machines.Items {
		forceDelete(s, &machines.Items[i])
	}
	forceDelete(s, vc)

	s.g.Eventually(func() int { return len(h.ClusterVMs(doomed.Namespace, doomed.Name)) }, time.Minute, 200*time.Millisecond).
		Should(BeZero(), "the orphaned servers are swept")
	s.g.Eventually(func() int { return len(h.Sim.LoadBalancersByName(resourceName)) }, time.Minute, 200*time.Millisecond).
		Should(BeZero(), "then the load balancer")
	s.g.Eventually(func() bool {
		for _, v := range h.Sim.VPCs() {
			if v.Name == resourceName {
				return true
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond).Should(BeFalse(), "and the VPC")
	s.g.Expect(h.ClusterVMs(kept.Namespace, kept.Name)).To(Equal(keptServers), "the live cluster keeps its server")
	s.g.Expect(string(output())).To(ContainSubstring("Orphaned VPSie resource"))

	// What is left of the force-deleted cluster goes the same way: nothing of it is in VPSie any more.
	for _, list := range []client.ObjectList{&clusterv1.MachineList{}, &clusterv1.MachineSetList{}, &clusterv1.MachineDeploymentList{}} {
		s.g.Expect(h.Client.List(s.ctx, list, client.InNamespace(doomed.Namespace),
			client.MatchingLabels{clusterv1.ClusterNameLabel: doomed.Name})).To(Succeed())
		items, err := meta.ExtractList(list)
		s.g.Expect(err).NotTo(HaveOccurred())
		for _, item := range items {
			forceDelete(s, item.(client.Object))
		}
	}
	forceDelete(s, cluster)
	s.deleteCluster(kept)
}

func ptrBool(b bool) *bool { return &b }

// forceDelete removes an object's finalizers and deletes it: what a user does who gives up on a deletion.
func forceDelete(s *scenario, obj client.Object) {
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	obj.SetFinalizers(nil)
	s.g.Expect(h.Client.Patch(s.ctx, obj, patch)).To(Succeed())
	s.g.Expect(client.IgnoreNotFound(h.Client.Delete(s.ctx, obj))).To(Succeed())
}
