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

package controllers

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// TestVPSieMachineTemplateCapacity: a template's status says what a node from it offers, read the way the
// clusterapi cluster-autoscaler reads it (unstructured, resource vpsiemachinetemplates, quantities).
func TestVPSieMachineTemplateCapacity(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	startSimulator(t, ns)
	cluster, _ := readyCluster(t, ns)

	newTemplate := func(name, plan string) *infrav1.VPSieMachineTemplate {
		tm := &infrav1.VPSieMachineTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: clusterv1.GroupVersion.String(), Kind: "Cluster", Name: cluster.Name, UID: cluster.UID,
			}}},
			Spec: infrav1.VPSieMachineTemplateSpec{Template: infrav1.VPSieMachineTemplateResource{
				Spec: infrav1.VPSieMachineSpec{Plan: plan, Image: vpsiesim.DefaultImage},
			}},
		}
		g.Expect(k8s.Create(ctx, tm)).To(Succeed())
		return tm
	}
	newTemplate("workers", vpsiesim.DefaultPlan)
	bad := newTemplate("unknown-plan", "no-such-plan")

	g.Eventually(func(g Gomega) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: infrav1.GroupVersion.Group, Version: "v1alpha1", Kind: "VPSieMachineTemplate"})
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "workers"}, u)).To(Succeed())
		capacity, found, err := unstructured.NestedStringMap(u.Object, "status", "capacity")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(found).To(BeTrue())
		// The plan std-2vcpu-4gb: 2 vCPU, 4096 MB, 80 GB.
		quantity := func(name corev1.ResourceName) int64 {
			q, err := resource.ParseQuantity(capacity[string(name)])
			g.Expect(err).NotTo(HaveOccurred(), "%s: %q", name, capacity[string(name)])
			return q.Value()
		}
		g.Expect(quantity(corev1.ResourceCPU)).To(Equal(int64(2)))
		g.Expect(quantity(corev1.ResourceMemory)).To(Equal(int64(4096) << 20))
		g.Expect(quantity(corev1.ResourceEphemeralStorage)).To(Equal(int64(80) << 30))
		arch, _, _ := unstructured.NestedString(u.Object, "status", "nodeInfo", "architecture")
		os, _, _ := unstructured.NestedString(u.Object, "status", "nodeInfo", "operatingSystem")
		g.Expect([]string{arch, os}).To(Equal([]string{"amd64", "linux"}))
	}, eventually, poll).Should(Succeed())

	g.Eventually(func(g Gomega) {
		cur := &infrav1.VPSieMachineTemplate{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(bad), cur)).To(Succeed())
		c := condition(cur, infrav1.ReadyCondition)
		g.Expect(c).To(haveCondition(metav1.ConditionFalse, infrav1.InvalidSpecReason))
		g.Expect(c.Message).To(ContainSubstring(`plan "no-such-plan" is not offered`))
		g.Expect(cur.Status.Capacity).To(BeEmpty())
	}, eventually, poll).Should(Succeed())
}
