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
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "sigs.k8s.io/cluster-api/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// flavors maps each clusterctl flavor to its template file.
var flavors = map[string]string{
	"default":    "cluster-template.yaml",
	"autoscaler": "cluster-template-autoscaler.yaml",
	"topology":   "cluster-template-topology.yaml",
	"without-lb": "cluster-template-without-lb.yaml",
}

// builtinVariables are set by clusterctl generate cluster from its arguments and flags.
var builtinVariables = []string{"CLUSTER_NAME", "KUBERNETES_VERSION", "CONTROL_PLANE_MACHINE_COUNT", "WORKER_MACHINE_COUNT"}

// docVariable is a row of the variables table in docs/getting-started.md.
type docVariable struct {
	Name     string
	Flavors  []string // flavor names, or "all"
	Default  string   // "" when required; the clusterctl default otherwise (builtins: "flag")
	Example  string
	Meaning  string
	Required bool
}

func (v docVariable) appliesTo(flavor string) bool {
	return slices.Contains(v.Flavors, "all") || slices.Contains(v.Flavors, flavor)
}

var (
	docRow  = regexp.MustCompile("^\\|\\s*`([A-Z0-9_]+)`\\s*\\|([^|]*)\\|([^|]*)\\|([^|]*)\\|(.*)\\|\\s*$")
	backtik = regexp.MustCompile("`([^`]*)`")
)

// documentedVariables parses the flavor variables table of docs/getting-started.md: columns Variable,
// Flavors, Default, Example, Meaning.
func documentedVariables(t *testing.T) map[string]docVariable {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(), "docs", "getting-started.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]docVariable{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := docRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v := docVariable{Name: m[1], Meaning: strings.TrimSpace(m[5])}
		for _, fl := range strings.Split(m[2], ",") {
			v.Flavors = append(v.Flavors, strings.Trim(strings.TrimSpace(fl), "`"))
		}
		def := strings.TrimSpace(m[3])
		switch {
		case def == "required":
			v.Required = true
		case backtik.MatchString(def):
			v.Default = backtik.FindStringSubmatch(def)[1]
		default:
			v.Default = def
		}
		if ex := backtik.FindStringSubmatch(m[4]); ex != nil {
			v.Example = ex[1]
		}
		vars[v.Name] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vars) == 0 {
		t.Fatal("no variables table found in docs/getting-started.md")
	}
	return vars
}

// clusterctl runs the clusterctl binary with a private configuration folder and the given extra environment.
func clusterctl(extraEnv map[string]string, args ...string) (string, error) {
	cmd := exec.Command(clusterctlBin, args...)
	cmd.Dir = repoRoot()
	cmd.Env = []string{
		"HOME=" + workDir,
		"XDG_CONFIG_HOME=" + filepath.Join(workDir, "config"),
		"CLUSTERCTL_DISABLE_VERSIONCHECK=true",
		"PATH=" + os.Getenv("PATH"),
	}
	for k, v := range extraEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("clusterctl %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// listVariables parses `clusterctl generate cluster --list-variables`: required names, and optional names
// with their defaults.
func listVariables(t *testing.T, file string) (required []string, optional map[string]string) {
	t.Helper()
	out, err := clusterctl(nil, "generate", "cluster", "capvpsie-list", "--target-namespace", "default",
		"--from", filepath.Join("templates", file), "--list-variables")
	if err != nil {
		t.Fatal(err)
	}
	optional = map[string]string{}
	section := ""
	item := regexp.MustCompile(`^\s+-\s+([A-Z0-9_]+)(?:\s+\(defaults to (.*)\))?\s*$`)
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Required Variables:"):
			section = "required"
		case strings.HasPrefix(line, "Optional Variables:"):
			section = "optional"
		case strings.HasPrefix(line, "Variables:"):
			section = "required"
		default:
			if m := item.FindStringSubmatch(line); m != nil {
				if section == "optional" {
					optional[m[1]] = strings.Trim(m[2], `"`)
				} else {
					required = append(required, m[1])
				}
			}
		}
	}
	return required, optional
}

// TestVariablesMatchTheDocs: `clusterctl generate cluster --list-variables` of every flavor lists exactly the
// variables docs/getting-started.md documents for that flavor, as required or with the documented default.
func TestVariablesMatchTheDocs(t *testing.T) {
	docs := documentedVariables(t)
	for flavor, file := range flavors {
		t.Run(flavor, func(t *testing.T) {
			g := NewWithT(t)
			required, optional := listVariables(t, file)
			var listed []string
			listed = append(listed, required...)
			for name := range optional {
				listed = append(listed, name)
			}
			var documented []string
			for _, v := range docs {
				if v.appliesTo(flavor) {
					documented = append(documented, v.Name)
				}
			}
			sort.Strings(listed)
			sort.Strings(documented)
			g.Expect(listed).To(Equal(documented), "variables of %s vs. the table in docs/getting-started.md", file)

			for _, name := range required {
				if slices.Contains(builtinVariables, name) {
					continue
				}
				g.Expect(docs[name].Required).To(BeTrue(), "%s is required by %s but documented with a default", name, file)
			}
			for name, def := range optional {
				if slices.Contains(builtinVariables, name) {
					continue
				}
				g.Expect(docs[name].Required).To(BeFalse(), "%s has a default in %s but is documented as required", name, file)
				g.Expect(docs[name].Default).To(Equal(def), "default of %s", name)
			}
		})
	}
}

// exampleEnv is the documented example of every documented variable that is not a clusterctl builtin.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, v := range documentedVariables(t) {
		if slices.Contains(builtinVariables, v.Name) {
			continue
		}
		if v.Example == "" {
			t.Fatalf("docs/getting-started.md gives no example for %s", v.Name)
		}
		env[v.Name] = v.Example
	}
	return env
}

// render runs `clusterctl generate cluster` on a flavor with the documented examples and returns its objects.
func render(t *testing.T, file, namespace string) []unstructured.Unstructured {
	t.Helper()
	return renderWith(t, file, namespace, nil)
}

// renderWith is render with some variables set otherwise.
func renderWith(t *testing.T, file, namespace string, vars map[string]string) []unstructured.Unstructured {
	t.Helper()
	return renderNamed(t, file, namespace, "capvpsie-test", vars)
}

// renderNamed is renderWith for a cluster of another name.
func renderNamed(t *testing.T, file, namespace, name string, vars map[string]string) []unstructured.Unstructured {
	t.Helper()
	env := exampleEnv(t)
	maps.Copy(env, vars)
	out, err := clusterctl(env, "generate", "cluster", name, "--target-namespace", namespace,
		"--from", filepath.Join("templates", file), "--kubernetes-version", "v1.34.1",
		"--control-plane-machine-count", "3", "--worker-machine-count", "2")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "${") {
		t.Fatalf("%s: an unsubstituted variable survives rendering:\n%s", file, out)
	}
	objs, err := utilyaml.ToUnstructured([]byte(out))
	if err != nil {
		t.Fatalf("%s renders to invalid YAML: %v", file, err)
	}
	return objs
}

// renderYAML runs `clusterctl generate yaml` on a file (ClusterClass, addons).
func renderYAML(t *testing.T, path string, vars map[string]string) []unstructured.Unstructured {
	t.Helper()
	out, err := clusterctl(vars, "generate", "yaml", "--from", path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "${") {
		t.Fatalf("%s: an unsubstituted variable survives rendering:\n%s", path, out)
	}
	objs, err := utilyaml.ToUnstructured([]byte(out))
	if err != nil {
		t.Fatalf("%s renders to invalid YAML: %v", path, err)
	}
	return objs
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "templates-"}}
	NewWithT(t).Expect(k8s().Create(context.Background(), ns)).To(Succeed())
	t.Cleanup(func() { _ = k8s().Delete(context.Background(), ns) })
	return ns.Name
}

// dryRun creates every object with server-side dry-run and strict field validation: the API server checks
// each against its CRD's schema and CEL rules, and calls this provider's defaulting and validating webhooks.
func dryRun(objs []unstructured.Unstructured, namespace string) error {
	for i := range objs {
		obj := objs[i].DeepCopy()
		if namespace != "" && obj.GetNamespace() == "" && obj.GetKind() != "ClusterRole" && obj.GetKind() != "ClusterRoleBinding" {
			obj.SetNamespace(namespace)
		}
		if err := k8s().Create(context.Background(), obj, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
			return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// TestNoCredentialInRenderedYAML: no flavor asks for a credential or renders one: the VPSieCluster refers to the
// Secret the user created (VPSIE_CREDENTIALS_SECRET), and nothing in the output looks like a credential's key.
func TestNoCredentialInRenderedYAML(t *testing.T) {
	ns := newNamespace(t)
	for flavor, file := range flavors {
		t.Run(flavor, func(t *testing.T) {
			g := NewWithT(t)
			required, optional := listVariables(t, file)
			for _, v := range append(slices.Collect(maps.Keys(optional)), required...) {
				g.Expect(v).NotTo(MatchRegexp("PASSWORD|API_KEY|CLIENT_(ID|SECRET)|TOKEN"), "a credential as a variable")
			}
			out, err := clusterctl(exampleEnv(t), "generate", "cluster", "capvpsie-test", "--target-namespace", ns,
				"--from", filepath.Join("templates", file), "--kubernetes-version", "v1.34.1",
				"--control-plane-machine-count", "1", "--worker-machine-count", "1")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).NotTo(MatchRegexp(`(?i)accountPassword|apiKey|clientSecret|kind: Secret`))
			g.Expect(out).To(ContainSubstring("vpsie-credentials"), "the VPSieCluster (or topology variable) names the Secret")
		})
	}
}

func TestFlavorsRenderAndPassDryRun(t *testing.T) {
	for flavor, file := range flavors {
		t.Run(flavor, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			objs := render(t, file, ns)
			g.Expect(dryRun(objs, ns)).To(Succeed())
			g.Expect(checkReferences(objs, clusterClassObjects(t))).To(Succeed())

			kinds := map[string]int{}
			for _, o := range objs {
				kinds[o.GetKind()]++
				g.Expect(o.GetNamespace()).To(Equal(ns))
			}
			g.Expect(kinds).NotTo(HaveKey("Secret"), "no credential is rendered")
			g.Expect(kinds).To(HaveKeyWithValue("Cluster", 1))
			if flavor == "topology" {
				return
			}
			g.Expect(kinds).To(HaveKeyWithValue("KubeadmControlPlane", 1))
			g.Expect(kinds).To(HaveKeyWithValue("MachineDeployment", 1))
			g.Expect(kinds).To(HaveKeyWithValue("MachineHealthCheck", 2), "one for the workers, one for the control plane")
			cpCheck := objs[slices.IndexFunc(objs, func(o unstructured.Unstructured) bool {
				return o.GetKind() == "MachineHealthCheck" && o.GetName() == "capvpsie-test-control-plane-unhealthy"
			})]
			sel, _, _ := unstructured.NestedStringMap(cpCheck.Object, "spec", "selector", "matchLabels")
			g.Expect(sel).To(Equal(map[string]string{"cluster.x-k8s.io/control-plane": ""}))
			g.Expect(cpCheck.Object).To(HaveKeyWithValue("spec", HaveKeyWithValue("remediation",
				HaveKeyWithValue("triggerIf", HaveKeyWithValue("unhealthyLessThanOrEqualTo", BeEquivalentTo(1))))),
				"KubeadmControlPlane remediates one machine at a time")
			vc := find(objs, "VPSieCluster")
			enabled, _, _ := unstructured.NestedBool(vc.Object, "spec", "controlPlaneLoadBalancer", "enabled")
			g.Expect(enabled).To(Equal(flavor != "without-lb"))
			md := find(objs, "MachineDeployment")
			_, hasReplicas, _ := unstructured.NestedFieldNoCopy(md.Object, "spec", "replicas")
			if flavor == "autoscaler" {
				g.Expect(hasReplicas).To(BeFalse(), "replicas are left to the cluster-autoscaler")
				g.Expect(md.GetAnnotations()).To(HaveKeyWithValue("cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size", "0"))
				// Scaling from zero: the label declared for the pool's future Nodes is one Cluster API puts on them.
				labels, _, _ := unstructured.NestedStringMap(md.Object, "spec", "template", "metadata", "labels")
				g.Expect(md.GetAnnotations()).To(HaveKeyWithValue("capacity.cluster-autoscaler.kubernetes.io/labels",
					"node.cluster.x-k8s.io/pool="+labels["node.cluster.x-k8s.io/pool"]))
				g.Expect(labels["node.cluster.x-k8s.io/pool"]).To(Equal("capvpsie-test-md-0"))
				g.Expect(md.GetAnnotations()).To(HaveKeyWithValue("cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size", "5"))
			} else {
				g.Expect(hasReplicas).To(BeTrue())
			}
		})
	}
}

// TestDryRunCatchesMistakes shows the checks above are not vacuous: a misspelt field, a wrong kind and a
// dangling reference each fail.
func TestDryRunCatchesMistakes(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	objs := render(t, flavors["default"], ns)

	bad := cloneAll(objs)
	vc := find(bad, "VPSieCluster")
	g.Expect(unstructured.SetNestedField(vc.Object, "dc", "spec", "datacentre")).To(Succeed())
	g.Expect(dryRun(bad, ns)).To(MatchError(ContainSubstring("datacentre")))

	bad = cloneAll(objs)
	g.Expect(unstructured.SetNestedField(find(bad, "Cluster").Object, "VPSieMachine", "spec", "infrastructureRef", "kind")).To(Succeed())
	g.Expect(checkReferences(bad, nil)).To(MatchError(ContainSubstring("VPSieMachine")))

	bad = cloneAll(objs)
	g.Expect(unstructured.SetNestedField(find(bad, "MachineDeployment").Object, "nope", "spec", "template", "spec", "infrastructureRef", "name")).To(Succeed())
	g.Expect(checkReferences(bad, nil)).To(MatchError(ContainSubstring("nope")))

	bad = cloneAll(objs)
	g.Expect(unstructured.SetNestedField(find(bad, "VPSieMachineTemplate").Object, "", "spec", "template", "spec", "plan")).To(Succeed())
	g.Expect(dryRun(bad, ns)).NotTo(Succeed())
}

func cloneAll(objs []unstructured.Unstructured) []unstructured.Unstructured {
	out := make([]unstructured.Unstructured, len(objs))
	for i := range objs {
		out[i] = *objs[i].DeepCopy()
	}
	return out
}

func find(objs []unstructured.Unstructured, kind string) *unstructured.Unstructured {
	for i := range objs {
		if objs[i].GetKind() == kind {
			return &objs[i]
		}
	}
	return nil
}

// objRef is a reference found in an object.
type objRef struct {
	from        string
	path        []string
	apiGroup    string // for apiGroup-style references
	apiVersion  string // for apiVersion-style references (ClusterClass)
	kind, name  string
	wantedKinds []string
}

func str(o map[string]any, path ...string) string {
	s, _, _ := unstructured.NestedString(o, path...)
	return s
}

func groupOf(apiVersion string) string {
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

// checkReferences verifies that every reference between the rendered objects (and to the ClusterClass
// objects, for the topology flavor) names an object that exists, of an expected kind and API group.
func checkReferences(objs, classObjs []unstructured.Unstructured) error {
	byKey := map[string]unstructured.Unstructured{}
	for _, o := range append(slices.Clone(objs), classObjs...) {
		byKey[o.GetKind()+"/"+o.GetName()] = o
	}
	var refs []objRef
	apiGroupRef := func(o unstructured.Unstructured, wanted []string, path ...string) {
		m, ok, _ := unstructured.NestedMap(o.Object, path...)
		if !ok {
			return
		}
		refs = append(refs, objRef{from: o.GetKind() + "/" + o.GetName(), path: path, apiGroup: str(m, "apiGroup"),
			kind: str(m, "kind"), name: str(m, "name"), wantedKinds: wanted})
	}
	templateRef := func(o unstructured.Unstructured, wanted []string, path ...string) {
		m, ok, _ := unstructured.NestedMap(o.Object, path...)
		if !ok {
			return
		}
		refs = append(refs, objRef{from: o.GetKind() + "/" + o.GetName(), path: path, apiVersion: str(m, "apiVersion"),
			kind: str(m, "kind"), name: str(m, "name"), wantedKinds: wanted})
	}
	var errs []string
	for _, o := range append(slices.Clone(objs), classObjs...) {
		switch o.GetKind() {
		case "Cluster":
			apiGroupRef(o, []string{"VPSieCluster"}, "spec", "infrastructureRef")
			apiGroupRef(o, []string{"KubeadmControlPlane"}, "spec", "controlPlaneRef")
			if class := str(o.Object, "spec", "topology", "classRef", "name"); class != "" {
				if _, ok := byKey["ClusterClass/"+class]; !ok {
					errs = append(errs, fmt.Sprintf("Cluster %s: ClusterClass %q not found", o.GetName(), class))
				}
			}
		case "VPSieCluster":
			// The user creates the credentials Secret first (docs/getting-started.md): the flavor must not.
			name := str(o.Object, "spec", "credentialsRef", "name")
			if _, ok := byKey["Secret/"+name]; ok || name != "vpsie-credentials" {
				errs = append(errs, fmt.Sprintf("VPSieCluster %s: credentialsRef %q: want the user's Secret vpsie-credentials, not rendered", o.GetName(), name))
			}
		case "KubeadmControlPlane":
			apiGroupRef(o, []string{"VPSieMachineTemplate"}, "spec", "machineTemplate", "spec", "infrastructureRef")
		case "MachineDeployment":
			apiGroupRef(o, []string{"KubeadmConfigTemplate"}, "spec", "template", "spec", "bootstrap", "configRef")
			apiGroupRef(o, []string{"VPSieMachineTemplate"}, "spec", "template", "spec", "infrastructureRef")
		case "MachineHealthCheck":
			sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector", "matchLabels")
			matched := false
			for _, md := range objs {
				labels, _, _ := unstructured.NestedStringMap(md.Object, "spec", "template", "metadata", "labels")
				if md.GetKind() == "MachineDeployment" && len(sel) > 0 && isSubset(sel, labels) {
					matched = true
				}
				// KubeadmControlPlane labels its Machines cluster.x-k8s.io/control-plane.
				if md.GetKind() == "KubeadmControlPlane" && len(sel) == 1 && isSubset(sel, map[string]string{"cluster.x-k8s.io/control-plane": ""}) {
					matched = true
				}
			}
			if !matched {
				errs = append(errs, fmt.Sprintf("MachineHealthCheck %s selects no MachineDeployment's or KubeadmControlPlane's machines", o.GetName()))
			}
		case "ClusterClass":
			templateRef(o, []string{"VPSieClusterTemplate"}, "spec", "infrastructure", "templateRef")
			templateRef(o, []string{"KubeadmControlPlaneTemplate"}, "spec", "controlPlane", "templateRef")
			templateRef(o, []string{"VPSieMachineTemplate"}, "spec", "controlPlane", "machineInfrastructure", "templateRef")
			mds, _, _ := unstructured.NestedSlice(o.Object, "spec", "workers", "machineDeployments")
			for i, md := range mds {
				u := unstructured.Unstructured{Object: map[string]any{"kind": "ClusterClass", "metadata": map[string]any{"name": o.GetName()}, "md": md}}
				templateRef(u, []string{"KubeadmConfigTemplate"}, "md", "bootstrap", "templateRef")
				templateRef(u, []string{"VPSieMachineTemplate"}, "md", "infrastructure", "templateRef")
				_ = i
			}
		}
	}
	for _, r := range refs {
		target, ok := byKey[r.kind+"/"+r.name]
		switch {
		case !slices.Contains(r.wantedKinds, r.kind):
			errs = append(errs, fmt.Sprintf("%s %s: kind %s, want one of %v", r.from, strings.Join(r.path, "."), r.kind, r.wantedKinds))
		case !ok:
			errs = append(errs, fmt.Sprintf("%s %s: %s %q not found", r.from, strings.Join(r.path, "."), r.kind, r.name))
		case r.apiGroup != "" && groupOf(target.GetAPIVersion()) != r.apiGroup:
			errs = append(errs, fmt.Sprintf("%s %s: apiGroup %s, the object's is %s", r.from, strings.Join(r.path, "."), r.apiGroup, target.GetAPIVersion()))
		case r.apiGroup == "" && r.apiVersion == "":
			errs = append(errs, fmt.Sprintf("%s %s: no apiGroup", r.from, strings.Join(r.path, ".")))
		case r.apiVersion != "" && r.apiVersion != target.GetAPIVersion():
			errs = append(errs, fmt.Sprintf("%s %s: apiVersion %s, the object's is %s", r.from, strings.Join(r.path, "."), r.apiVersion, target.GetAPIVersion()))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

func isSubset(sub, super map[string]string) bool {
	for k, v := range sub {
		if super[k] != v {
			return false
		}
	}
	return true
}
