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

package templates

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	utilyaml "sigs.k8s.io/cluster-api/util/yaml"
)

// flavorCNI is what a rendered flavor installs as its CNI: the ClusterResourceSet, whether it selects the
// flavor's Cluster, and the objects of the ConfigMap it applies.
type flavorCNI struct {
	crs      *unstructured.Unstructured
	selected bool
	manifest string
	objects  []unstructured.Unstructured
}

func cniOf(t *testing.T, objs []unstructured.Unstructured) flavorCNI {
	t.Helper()
	g := NewWithT(t)
	var cni flavorCNI
	cni.crs = find(objs, "ClusterResourceSet")
	g.Expect(cni.crs).NotTo(BeNil(), "a ClusterResourceSet installs the CNI")
	cni.selected = selects(t, cni.crs, find(objs, "Cluster"))

	resources, _, _ := unstructured.NestedSlice(cni.crs.Object, "spec", "resources")
	g.Expect(resources).To(HaveLen(1))
	ref := resources[0].(map[string]any)
	g.Expect(ref).To(HaveKeyWithValue("kind", "ConfigMap"))
	i := slices.IndexFunc(objs, func(o unstructured.Unstructured) bool {
		return o.GetKind() == "ConfigMap" && o.GetName() == ref["name"]
	})
	g.Expect(i).NotTo(Equal(-1), "the ConfigMap %s the ClusterResourceSet applies is rendered with it", ref["name"])
	data, _, _ := unstructured.NestedStringMap(objs[i].Object, "data")
	g.Expect(data).To(HaveLen(1))
	for _, manifest := range data {
		cni.manifest = manifest
	}
	var err error
	cni.objects, err = utilyaml.ToUnstructured([]byte(cni.manifest))
	g.Expect(err).NotTo(HaveOccurred())
	return cni
}

// TestFlavorsInstallTheCNI: every flavor renders a ClusterResourceSet selecting its own Cluster (not every
// Cluster of the namespace) that applies flannel once: its network is the Cluster's Pod CIDR (also when
// POD_CIDR is changed), its VXLAN runs over the kubelet's node IP (the VPC address, which the firewall admits
// between nodes) rather than the interface of the default route, its images are pinned, and every object passes
// server-side dry-run. Another CNI leaves the Cluster unselected; the manifest is the same in every flavor.
func TestFlavorsInstallTheCNI(t *testing.T) {
	manifests := map[string]string{}
	for flavor, file := range flavors {
		t.Run(flavor, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			for _, podCIDR := range []string{"", "10.244.0.0/16"} {
				vars := map[string]string{}
				if podCIDR != "" {
					vars["POD_CIDR"] = podCIDR
				}
				objs := renderWith(t, file, ns, vars)
				cni := cniOf(t, objs)
				if podCIDR == "" {
					manifests[flavor] = cni.manifest
				}
				g.Expect(cni.selected).To(BeTrue(), "the ClusterResourceSet selects the flavor's Cluster")
				g.Expect(cni.crs.Object).To(HaveKeyWithValue("spec", HaveKeyWithValue("strategy", "ApplyOnce")))
				// Another cluster of the namespace, labelled as the flavor labels its own Cluster.
				other := find(renderNamed(t, file, ns, "another", vars), "Cluster")
				g.Expect(selects(t, cni.crs, other)).To(BeFalse(), "a ClusterResourceSet of one cluster does not select another")

				pods, _, _ := unstructured.NestedStringSlice(find(objs, "Cluster").Object, "spec", "clusterNetwork", "pods", "cidrBlocks")
				g.Expect(flannelNetwork(t, cni.objects)).To(Equal(pods[0]))
				if podCIDR != "" {
					g.Expect(pods[0]).To(Equal(podCIDR))
				}

				ds := flannelDaemonSet(t, cni.objects)
				for _, c := range slices.Concat(ds.Spec.Template.Spec.InitContainers, ds.Spec.Template.Spec.Containers) {
					_, tag, ok := strings.Cut(c.Image, ":")
					g.Expect(ok && tag != "latest").To(BeTrue(), "image %s is pinned", c.Image)
				}
				flanneld := ds.Spec.Template.Spec.Containers[0]
				g.Expect(flanneld.Args).To(ContainElement("--kube-subnet-mgr"))
				g.Expect(flanneld.Env).To(ContainElement(corev1.EnvVar{Name: "FLANNELD_IFACE", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}}))
				g.Expect(ds.Spec.Template.Spec.Tolerations).To(ContainElement(corev1.Toleration{
					Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}), "runs on control-plane nodes too")
				g.Expect(createNamespaces(cni.objects)).To(Succeed())
				g.Expect(dryRun(slices.DeleteFunc(slices.Clone(cni.objects), func(o unstructured.Unstructured) bool {
					return o.GetKind() == "Namespace"
				}), "")).To(Succeed())
			}
			objs := renderWith(t, file, ns, map[string]string{"CNI": "cilium"})
			g.Expect(cniOf(t, objs).selected).To(BeFalse(), "CNI=cilium: bring your own")
			g.Expect(find(objs, "Cluster").GetLabels()).To(HaveKeyWithValue("cni", "cilium"), "for your own add-on to select")
		})
	}
	g := NewWithT(t)
	g.Expect(manifests).To(HaveLen(len(flavors)))
	for flavor, m := range manifests {
		g.Expect(m).To(Equal(manifests["default"]), "%s carries the same CNI manifest as the default flavor", flavor)
	}
}

// createNamespaces creates the manifest's Namespaces for real (once for the whole test environment), so that
// its namespaced objects can be dry-run into them.
func createNamespaces(objs []unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			if err := k8s().Create(context.Background(), o.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
		}
	}
	return nil
}

// selects is whether the ClusterResourceSet's selector picks the Cluster.
func selects(t *testing.T, crs, cluster *unstructured.Unstructured) bool {
	t.Helper()
	g := NewWithT(t)
	var sel metav1.LabelSelector
	raw, _, _ := unstructured.NestedMap(crs.Object, "spec", "clusterSelector")
	g.Expect(kruntime.DefaultUnstructuredConverter.FromUnstructured(raw, &sel)).To(Succeed())
	selector, err := metav1.LabelSelectorAsSelector(&sel)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(selector.Empty()).To(BeFalse(), "an empty selector would select every Cluster of the namespace")
	return selector.Matches(labels.Set(cluster.GetLabels()))
}

func flannelDaemonSet(t *testing.T, objs []unstructured.Unstructured) *appsv1.DaemonSet {
	t.Helper()
	g := NewWithT(t)
	u := find(objs, "DaemonSet")
	g.Expect(u).NotTo(BeNil())
	var ds appsv1.DaemonSet
	g.Expect(kruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ds)).To(Succeed())
	g.Expect(ds.Spec.Template.Spec.Containers).NotTo(BeEmpty())
	return &ds
}

// flannelNetwork is the Network of flannel's net-conf.json.
func flannelNetwork(t *testing.T, objs []unstructured.Unstructured) string {
	t.Helper()
	g := NewWithT(t)
	i := slices.IndexFunc(objs, func(o unstructured.Unstructured) bool {
		return o.GetKind() == "ConfigMap" && o.GetName() == "kube-flannel-cfg"
	})
	g.Expect(i).NotTo(Equal(-1))
	conf, _, _ := unstructured.NestedString(objs[i].Object, "data", "net-conf.json")
	var net struct {
		Network string
		Backend struct{ Type string }
	}
	g.Expect(json.Unmarshal([]byte(conf), &net)).To(Succeed())
	g.Expect(net.Backend.Type).To(Equal("vxlan"))
	return net.Network
}

// TestCloudControllerManagerAddon: the optional VPSie cloud-controller-manager add-on applies only to a Cluster
// labelled for it (not to every cluster of the namespace, not to the flavors' unlabelled Cluster), reads its API
// key from a Secret of its own in the workload cluster (never the provider's credentials, never a literal), and
// both its management-cluster objects and the workload-cluster manifest pass server-side dry-run.
func TestCloudControllerManagerAddon(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	mgmt := renderYAML(t, filepath.Join("templates", "addons", "vpsie-cloud-controller-manager", "management-cluster.yaml"),
		map[string]string{"CLUSTER_NAME": "capvpsie-test", "NAMESPACE": ns, "VPSIE_DATACENTER": "dc-1"})
	g.Expect(dryRun(mgmt, ns)).To(Succeed())
	crs := find(mgmt, "ClusterResourceSet")
	g.Expect(crs).NotTo(BeNil())

	cluster := find(render(t, "cluster-template.yaml", ns), "Cluster")
	g.Expect(selects(t, crs, cluster)).To(BeFalse(), "opt-in: the flavor's Cluster is not selected until labelled")
	cluster.SetLabels(map[string]string{"vpsie-ccm": "capvpsie-test"})
	g.Expect(selects(t, crs, cluster)).To(BeTrue(), "labelled as docs/addons.md says")
	cluster.SetLabels(map[string]string{"vpsie-ccm": "another"})
	g.Expect(selects(t, crs, cluster)).To(BeFalse())

	cm := find(mgmt, "ConfigMap")
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	g.Expect(data).To(HaveLen(1))
	var workload []unstructured.Unstructured
	for _, manifest := range data {
		var err error
		workload, err = utilyaml.ToUnstructured([]byte(manifest))
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(dryRun(workload, "")).To(Succeed())
	g.Expect(find(workload, "Secret")).To(BeNil(), "the API key is the user's to create in the workload cluster")

	var dep appsv1.Deployment
	g.Expect(kruntime.DefaultUnstructuredConverter.FromUnstructured(find(workload, "Deployment").Object, &dep)).To(Succeed())
	c := dep.Spec.Template.Spec.Containers[0]
	_, tag, ok := strings.Cut(c.Image, ":")
	g.Expect(ok && tag != "latest").To(BeTrue(), "image %s is pinned", c.Image)
	g.Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "VPSIE_API_KEY", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "vpsie-ccm"}, Key: "token"}}}))
	g.Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "DCIDENNTIFIER", Value: "dc-1"}))
	for _, e := range c.Env {
		g.Expect(e.Value == "" || e.Name == "DCIDENNTIFIER").To(BeTrue(), "no literal value but the datacenter: %s", e.Name)
	}
	g.Expect(c.Command).To(ContainElement("--cloud-provider=vpsie"))
}
