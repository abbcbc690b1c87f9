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
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// The cluster-autoscaler's clusterapi provider annotations bounding a node group.
const (
	autoscalerMinSize = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
	autoscalerMaxSize = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
)

// autoscalerView is what the cluster-autoscaler's clusterapi provider reads to build a node from nothing for
// a node group at zero replicas.
type autoscalerView struct {
	min, max, replicas int64
	templateResource   schema.GroupVersionResource
	capacity           map[corev1.ResourceName]resource.Quantity
	architecture, os   string
}

// Autoscaling from zero: a MachineDeployment at 0 replicas with min 0 / max 3 annotations is read the way the
// cluster-autoscaler reads it (unstructured, through discovery and a dynamic client): its infrastructure
// template's status.capacity and status.nodeInfo describe the plan's node. Then it is scaled through the
// scale subresource, as the autoscaler does, to 2 and back to 0; servers come and go.
//
// The template gets no cluster-name label and no owner reference from the test: Cluster API's
// MachineDeployment controller makes the Cluster an owner of the templates the MachineDeployment uses
// (reconcileExternalTemplateReference), and that is how the provider's template controller finds the
// cluster's credentials. The test checks that owner reference is Cluster API's doing.
func TestAutoscalingFromZero(t *testing.T) {
	s := newScenario(t, true)
	c := s.workerCluster("fromzero", ClusterOptions{})
	md, err := h.CreateMachineDeployment(s.ctx, c, "md-0", ptr.To(int32(0)), map[string]string{
		autoscalerMinSize: "0", autoscalerMaxSize: "3",
	})
	s.g.Expect(err).NotTo(HaveOccurred())

	dyn, err := dynamic.NewForConfig(h.Env.Config)
	s.g.Expect(err).NotTo(HaveOccurred())
	disco, err := discovery.NewDiscoveryClientForConfig(h.Env.Config)
	s.g.Expect(err).NotTo(HaveOccurred())
	mdGVR, err := resourceFor(disco, clusterv1.GroupVersion.Group, "MachineDeployment")
	s.g.Expect(err).NotTo(HaveOccurred())

	plan, ok := h.Sim.Catalog().Plan(vpsiesim.DefaultPlan)
	s.g.Expect(ok).To(BeTrue())
	var view autoscalerView
	s.g.Eventually(func() error {
		view, err = readAsAutoscaler(s.ctx, dyn, disco, mdGVR, c.Namespace, md.Name)
		if err != nil {
			return err
		}
		if len(view.capacity) == 0 {
			return fmt.Errorf("template %s has no status.capacity yet", view.templateResource)
		}
		return nil
	}, timeoutShort, 250*time.Millisecond).Should(Succeed())
	s.g.Expect(view.templateResource).To(Equal(schema.GroupVersionResource{
		Group: "infrastructure.cluster.x-k8s.io", Version: "v1alpha1", Resource: "vpsiemachinetemplates",
	}))
	s.g.Expect([]int64{view.min, view.max, view.replicas}).To(Equal([]int64{0, 3, 0}), "min, max, replicas")
	expectQuantity(s.g, view.capacity, corev1.ResourceCPU, resource.MustParse(strconv.Itoa(plan.CPU)))
	expectQuantity(s.g, view.capacity, corev1.ResourceMemory, resource.MustParse(fmt.Sprintf("%dMi", plan.RAM)))
	expectQuantity(s.g, view.capacity, corev1.ResourceEphemeralStorage, resource.MustParse(fmt.Sprintf("%dGi", plan.SSD)))
	s.g.Expect([]int{plan.CPU, plan.RAM, plan.SSD}).To(Equal([]int{2, 4096, 80}), "the default plan std-2vcpu-4gb")
	s.g.Expect(view.architecture).To(Equal("amd64"))
	s.g.Expect(view.os).To(Equal("linux"))
	s.g.Expect(h.ClusterVMs(c.Namespace, c.Name)).To(BeEmpty(), "reading the template created no server")

	// Cluster API, not the test, made the Cluster an owner of the template.
	tmpl, err := dyn.Resource(view.templateResource).Namespace(c.Namespace).Get(s.ctx, md.Name, metav1.GetOptions{})
	s.g.Expect(err).NotTo(HaveOccurred())
	s.g.Expect(tmpl.GetLabels()).NotTo(HaveKey(clusterv1.ClusterNameLabel))
	s.g.Expect(tmpl.GetOwnerReferences()).To(ContainElement(And(
		HaveField("Kind", "Cluster"), HaveField("Name", c.Name), HaveField("APIVersion", clusterv1.GroupVersion.String()),
	)))

	// Scale up from zero, then back down, through the scale subresource.
	s.g.Expect(scaleAsAutoscaler(s.ctx, dyn, mdGVR, c.Namespace, md.Name, 2)).To(Succeed())
	two := s.waitRunning(c, md, 2)
	s.expectServersMatch(c, two)

	s.g.Expect(scaleAsAutoscaler(s.ctx, dyn, mdGVR, c.Namespace, md.Name, 0)).To(Succeed())
	s.g.Eventually(func(g Gomega) {
		machines, err := h.Machines(s.ctx, c, md.Name)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(machines).To(BeEmpty(), MachinesSummary(machines))
		g.Expect(h.ClusterVMs(c.Namespace, c.Name)).To(BeEmpty(), "live servers")
	}, timeoutLong, 250*time.Millisecond).Should(Succeed())
	s.g.Expect(h.ClusterDeletedVMs(c.Namespace, c.Name)).To(HaveLen(2), "both servers deleted")
	s.deleteCluster(c)
}

// resourceFor finds, through discovery, the preferred version of group and the resource serving kind.
func resourceFor(disco discovery.DiscoveryInterface, group, kind string) (schema.GroupVersionResource, error) {
	groups, err := disco.ServerGroups()
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	for _, g := range groups.Groups {
		if g.Name != group {
			continue
		}
		gv := g.PreferredVersion.GroupVersion
		resources, err := disco.ServerResourcesForGroupVersion(gv)
		if err != nil {
			return schema.GroupVersionResource{}, err
		}
		// The autoscaler's guess, lower(kind)+"s", checked against what the API server serves.
		want := strings.ToLower(kind) + "s"
		for _, r := range resources.APIResources {
			if r.Name == want && r.Kind == kind {
				return schema.GroupVersionResource{Group: group, Version: g.PreferredVersion.Version, Resource: want}, nil
			}
		}
		return schema.GroupVersionResource{}, fmt.Errorf("%s serves no %s (%s)", gv, want, kind)
	}
	return schema.GroupVersionResource{}, fmt.Errorf("API group %s is not served", group)
}

// readAsAutoscaler reads a MachineDeployment's node-group bounds and its infrastructure template's capacity
// as the cluster-autoscaler does: all unstructured.
func readAsAutoscaler(ctx context.Context, dyn dynamic.Interface, disco discovery.DiscoveryInterface, mdGVR schema.GroupVersionResource, namespace, name string) (autoscalerView, error) {
	var v autoscalerView
	md, err := dyn.Resource(mdGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return v, err
	}
	for key, into := range map[string]*int64{autoscalerMinSize: &v.min, autoscalerMaxSize: &v.max} {
		if *into, err = strconv.ParseInt(md.GetAnnotations()[key], 10, 64); err != nil {
			return v, fmt.Errorf("annotation %s: %w", key, err)
		}
	}
	if v.replicas, _, err = unstructured.NestedInt64(md.Object, "spec", "replicas"); err != nil {
		return v, err
	}
	ref, found, err := unstructured.NestedStringMap(md.Object, "spec", "template", "spec", "infrastructureRef")
	if err != nil {
		return v, fmt.Errorf("spec.template.spec.infrastructureRef: %w", err)
	}
	if !found {
		return v, fmt.Errorf("spec.template.spec.infrastructureRef is not set")
	}
	if v.templateResource, err = resourceFor(disco, ref["apiGroup"], ref["kind"]); err != nil {
		return v, err
	}
	tmpl, err := dyn.Resource(v.templateResource).Namespace(namespace).Get(ctx, ref["name"], metav1.GetOptions{})
	if err != nil {
		return v, err
	}
	raw, _, err := unstructured.NestedStringMap(tmpl.Object, "status", "capacity")
	if err != nil {
		return v, err
	}
	v.capacity = map[corev1.ResourceName]resource.Quantity{}
	for k, s := range raw {
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return v, fmt.Errorf("status.capacity.%s %q: %w", k, s, err)
		}
		v.capacity[corev1.ResourceName(k)] = q
	}
	v.architecture, _, _ = unstructured.NestedString(tmpl.Object, "status", "nodeInfo", "architecture")
	v.os, _, _ = unstructured.NestedString(tmpl.Object, "status", "nodeInfo", "operatingSystem")
	return v, nil
}

// scaleAsAutoscaler sets a MachineDeployment's replicas through its scale subresource.
func scaleAsAutoscaler(ctx context.Context, dyn dynamic.Interface, mdGVR schema.GroupVersionResource, namespace, name string, replicas int64) error {
	res := dyn.Resource(mdGVR).Namespace(namespace)
	// Cluster API's controllers write the MachineDeployment too: a conflict means read again and retry, as the
	// autoscaler's own scale client does.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := res.Get(ctx, name, metav1.GetOptions{}, "scale")
		if err != nil {
			return err
		}
		if err := unstructured.SetNestedField(scale.Object, replicas, "spec", "replicas"); err != nil {
			return err
		}
		_, err = res.Update(ctx, scale, metav1.UpdateOptions{}, "scale")
		return err
	})
}

func expectQuantity(g Gomega, capacity map[corev1.ResourceName]resource.Quantity, name corev1.ResourceName, want resource.Quantity) {
	got, ok := capacity[name]
	g.ExpectWithOffset(1, ok).To(BeTrue(), "status.capacity has %s", name)
	g.ExpectWithOffset(1, got.Cmp(want)).To(BeZero(), "status.capacity.%s is %s, want %s", name, got.String(), want.String())
}
