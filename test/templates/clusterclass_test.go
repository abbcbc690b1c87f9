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
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/version"
)

// clusterClassObjects is templates/clusterclass-vpsie.yaml as clusterctl renders it (it has no variables).
func clusterClassObjects(t *testing.T) []unstructured.Unstructured {
	t.Helper()
	return renderYAML(t, filepath.Join("templates", "clusterclass-vpsie.yaml"), nil)
}

func TestClusterClass(t *testing.T) {
	g := NewWithT(t)
	objs := clusterClassObjects(t)

	out, err := clusterctl(nil, "generate", "yaml", "--from", filepath.Join("templates", "clusterclass-vpsie.yaml"), "--list-variables")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).NotTo(ContainSubstring("- "), "the ClusterClass must not use clusterctl variables:\n%s", out)

	ns := newNamespace(t)
	g.Expect(dryRun(objs, ns)).To(Succeed())
	g.Expect(checkReferences(nil, objs)).To(Succeed())
	g.Expect(checkPatchPaths(objs)).To(Succeed())

	// The topology flavor sets every required ClusterClass variable and only declared ones.
	cc := find(objs, "ClusterClass")
	declared := map[string]bool{}
	var required []string
	vars, _, _ := unstructured.NestedSlice(cc.Object, "spec", "variables")
	for _, v := range vars {
		m := v.(map[string]any)
		declared[str(m, "name")] = true
		if req, _, _ := unstructured.NestedBool(m, "required"); req {
			required = append(required, str(m, "name"))
		}
	}
	_, cpHealthCheck, _ := unstructured.NestedMap(cc.Object, "spec", "controlPlane", "healthCheck")
	g.Expect(cpHealthCheck).To(BeTrue(), "the control plane has a health check")
	g.Expect(required).To(ConsistOf("datacenter", "loadBalancerPlan", "controlPlanePlan", "workerPlan", "image", "sshKey"),
		"the Kubernetes apt repository, VPC range and firewall have defaults")
	cluster := find(render(t, flavors["topology"], ns), "Cluster")
	given, _, _ := unstructured.NestedSlice(cluster.Object, "spec", "topology", "variables")
	var names []string
	for _, v := range given {
		name := str(v.(map[string]any), "name")
		g.Expect(declared).To(HaveKey(name))
		names = append(names, name)
	}
	for _, r := range required {
		g.Expect(names).To(ContainElement(r))
	}
}

// checkPatchPaths verifies that every JSON patch of the ClusterClass applies to the templates its selector
// picks: "replace" needs the path to exist; "add" to an array end ("/-") needs the array.
func checkPatchPaths(objs []unstructured.Unstructured) error {
	cc := find(objs, "ClusterClass")
	if cc == nil {
		return fmt.Errorf("no ClusterClass")
	}
	byKindName := map[string]unstructured.Unstructured{}
	for _, o := range objs {
		byKindName[o.GetKind()+"/"+o.GetName()] = o
	}
	ref := func(path ...string) string {
		return str(cc.Object, append(path, "kind")...) + "/" + str(cc.Object, append(path, "name")...)
	}
	var errs []string
	patches, _, _ := unstructured.NestedSlice(cc.Object, "spec", "patches")
	for _, p := range patches {
		pm := p.(map[string]any)
		defs, _, _ := unstructured.NestedSlice(pm, "definitions")
		for _, d := range defs {
			dm := d.(map[string]any)
			kind := str(dm, "selector", "kind")
			var targets []string
			if b, _, _ := unstructured.NestedBool(dm, "selector", "matchResources", "infrastructureCluster"); b {
				targets = append(targets, ref("spec", "infrastructure", "templateRef"))
			}
			if b, _, _ := unstructured.NestedBool(dm, "selector", "matchResources", "controlPlane"); b {
				targets = append(targets, ref("spec", "controlPlane", "templateRef"),
					ref("spec", "controlPlane", "machineInfrastructure", "templateRef"))
			}
			mdNames, _, _ := unstructured.NestedStringSlice(dm, "selector", "matchResources", "machineDeploymentClass", "names")
			mds, _, _ := unstructured.NestedSlice(cc.Object, "spec", "workers", "machineDeployments")
			for _, md := range mds {
				mdm := md.(map[string]any)
				if slices.Contains(mdNames, str(mdm, "class")) {
					targets = append(targets,
						str(mdm, "bootstrap", "templateRef", "kind")+"/"+str(mdm, "bootstrap", "templateRef", "name"),
						str(mdm, "infrastructure", "templateRef", "kind")+"/"+str(mdm, "infrastructure", "templateRef", "name"))
				}
			}
			matched := 0
			jps, _, _ := unstructured.NestedSlice(dm, "jsonPatches")
			for _, target := range targets {
				if !strings.HasPrefix(target, kind+"/") {
					continue
				}
				matched++
				obj := byKindName[target]
				for _, jp := range jps {
					jpm := jp.(map[string]any)
					if err := checkPointer(obj.Object, str(jpm, "op"), str(jpm, "path")); err != nil {
						errs = append(errs, fmt.Sprintf("patch %s on %s: %v", str(pm, "name"), target, err))
					}
				}
			}
			if matched == 0 {
				errs = append(errs, fmt.Sprintf("patch %s selects no template of kind %s", str(pm, "name"), kind))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// checkPointer tells whether a JSON patch operation of the given kind applies at path in obj.
func checkPointer(obj map[string]any, op, path string) error {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var cur any = obj
	for i, part := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[part]
			if !ok {
				if last && op == "add" {
					return nil
				}
				return fmt.Errorf("%s %s: %q does not exist", op, path, part)
			}
			cur = next
		case []any:
			if part == "-" && last && op == "add" {
				return nil
			}
			idx, err := strconv.Atoi(part)
			if err != nil || idx >= len(c) {
				return fmt.Errorf("%s %s: no element %q", op, path, part)
			}
			cur = c[idx]
		default:
			return fmt.Errorf("%s %s: %q is not an object or array", op, path, part)
		}
	}
	return nil
}

// TestAutoscalerAddons: the cluster-autoscaler manifests render, pass dry-run, run the clusterapi cloud
// provider with auto-discovery for the cluster, and grant what scaling (from zero too) needs.
func TestAutoscalerAddons(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	vars := map[string]string{"CLUSTER_NAME": "capvpsie-test", "NAMESPACE": ns}
	mgmt := renderYAML(t, filepath.Join("templates", "addons", "cluster-autoscaler", "management-cluster.yaml"), vars)
	g.Expect(dryRun(mgmt, ns)).To(Succeed())
	workload := renderYAML(t, filepath.Join("templates", "addons", "cluster-autoscaler", "workload-cluster.yaml"), nil)
	g.Expect(dryRun(workload, "")).To(Succeed())

	dep := find(mgmt, "Deployment")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	// The default image: the Kubernetes project's, at a release that resolves v1beta2's infrastructureRef.apiGroup
	// per kind (kubernetes/autoscaler#9458, first in v1.36.0).
	image, _, _ := unstructured.NestedString(containers[0].(map[string]any), "image")
	repo, tag, _ := strings.Cut(image, ":")
	g.Expect(repo).To(Equal("registry.k8s.io/autoscaling/cluster-autoscaler"))
	g.Expect(version.MustParseSemantic(tag).AtLeast(version.MustParseSemantic("v1.36.0"))).To(BeTrue(), image)
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	g.Expect(args).To(ContainElements("--cloud-provider=clusterapi",
		"--node-group-auto-discovery=clusterapi:namespace="+ns+",clusterName=capvpsie-test",
		"--enforce-node-group-min-size=true", "--max-node-provision-time=25m"))
	// Above first boot and the flavors' MachineHealthCheck startup timeout (1200 s).
	provision, err := time.ParseDuration(strings.TrimPrefix(args[slices.IndexFunc(args, func(a string) bool {
		return strings.HasPrefix(a, "--max-node-provision-time=")
	})], "--max-node-provision-time="))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(provision).To(BeNumerically(">", 1200*time.Second))
	requests, _, _ := unstructured.NestedStringMap(containers[0].(map[string]any), "resources", "requests")
	g.Expect(requests).To(HaveKey("cpu"))
	g.Expect(requests).To(HaveKey("memory"))

	var role rbacv1.Role
	g.Expect(kruntime.DefaultUnstructuredConverter.FromUnstructured(find(mgmt, "Role").Object, &role)).To(Succeed())
	g.Expect(allows(role.Rules, "cluster.x-k8s.io", "machinedeployments/scale", "get", "update", "patch")).To(BeTrue())
	g.Expect(allows(role.Rules, "cluster.x-k8s.io", "machinedeployments", "get", "list", "watch", "update", "patch")).To(BeTrue())
	g.Expect(allows(role.Rules, "cluster.x-k8s.io", "machines", "get", "list", "watch", "update", "patch")).To(BeTrue())
	g.Expect(allows(role.Rules, "cluster.x-k8s.io", "machinesets", "get", "list", "watch")).To(BeTrue())
	g.Expect(allows(role.Rules, "infrastructure.cluster.x-k8s.io", "vpsiemachinetemplates", "get", "list", "watch")).To(BeTrue())

	var cr rbacv1.ClusterRole
	g.Expect(kruntime.DefaultUnstructuredConverter.FromUnstructured(find(workload, "ClusterRole").Object, &cr)).To(Succeed())
	g.Expect(allows(cr.Rules, "", "nodes", "get", "list", "watch", "update", "patch")).To(BeTrue())
	g.Expect(allows(cr.Rules, "", "pods/eviction", "create")).To(BeTrue())
	g.Expect(allows(cr.Rules, "", "pods", "get", "list", "watch")).To(BeTrue())
}

func allows(rules []rbacv1.PolicyRule, group, resource string, verbs ...string) bool {
	for _, verb := range verbs {
		ok := false
		for _, r := range rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestInstallScriptIsTheSameEverywhere: the script that installs Kubernetes on a stock image is repeated in
// every bootstrap template of every flavor and of the ClusterClass; the copies must not drift apart.
// TestNodeScriptsAreTheSameEverywhere: every flavor and the ClusterClass carry the same copy of each node
// script (the install script everywhere, the private-address script wherever nodes sit on a VPC).
func TestNodeScriptsAreTheSameEverywhere(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	scripts := map[string]map[string]string{} // path -> where -> content
	collect := func(source string, objs []unstructured.Unstructured) {
		for _, o := range objs {
			for _, f := range kubeadmFiles(o) {
				if path := str(f, "path"); strings.HasPrefix(path, "/usr/local/bin/capvpsie-") {
					if scripts[path] == nil {
						scripts[path] = map[string]string{}
					}
					scripts[path][source+" "+o.GetKind()] = str(f, "content")
				}
			}
		}
	}
	for flavor, file := range flavors {
		collect(flavor, render(t, file, ns))
	}
	collect("clusterclass", clusterClassObjects(t))
	g.Expect(scripts).To(HaveKey("/usr/local/bin/capvpsie-install-kubernetes.sh"))
	g.Expect(scripts["/usr/local/bin/capvpsie-install-kubernetes.sh"]).To(HaveLen(2*3 + 2))
	g.Expect(scripts[aptRepositoryScript]).To(HaveLen(2*3+2), "the install script's helper goes with it")
	g.Expect(scripts).To(HaveKey(privateAddressScript))
	g.Expect(scripts[privateAddressScript]).To(HaveLen(2*2+2), "default, autoscaler and the ClusterClass: control plane and workers")
	for path, copies := range scripts {
		var first string
		for source, s := range copies {
			if first == "" {
				first = s
			}
			g.Expect(s).To(Equal(first), "%s in %s", path, source)
		}
	}
}

// kubeadmFiles are the files of a KubeadmControlPlane(Template) or KubeadmConfigTemplate.
func kubeadmFiles(o unstructured.Unstructured) []map[string]any {
	var path []string
	switch o.GetKind() {
	case "KubeadmControlPlane":
		path = []string{"spec", "kubeadmConfigSpec", "files"}
	case "KubeadmControlPlaneTemplate":
		path = []string{"spec", "template", "spec", "kubeadmConfigSpec", "files"}
	case "KubeadmConfigTemplate":
		path = []string{"spec", "template", "spec", "files"}
	default:
		return nil
	}
	files, _, _ := unstructured.NestedSlice(o.Object, path...)
	out := make([]map[string]any, 0, len(files))
	for _, f := range files {
		out = append(out, f.(map[string]any))
	}
	return out
}
