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

package metrics

import (
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
)

func TestMachineStatesGaugeFollowsEachMachine(t *testing.T) {
	g := NewWithT(t)
	tracker := &stateTracker{states: map[types.NamespacedName]string{}}
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	gauge := func(state string) float64 { return testutil.ToFloat64(machinesByState.WithLabelValues(state)) }
	base := map[string]float64{"Pending": gauge("Pending"), "Running": gauge("Running")}

	tracker.Set(a, "Pending")
	tracker.Set(b, "Pending")
	tracker.Set(a, "Pending") // no change: no double count
	g.Expect(gauge("Pending") - base["Pending"]).To(Equal(2.0))

	tracker.Set(a, "Running")
	g.Expect(gauge("Pending") - base["Pending"]).To(Equal(1.0))
	g.Expect(gauge("Running") - base["Running"]).To(Equal(1.0))

	tracker.Set(a, "") // deleted machine
	tracker.Set(b, "")
	g.Expect(gauge("Pending") - base["Pending"]).To(Equal(0.0))
	g.Expect(gauge("Running") - base["Running"]).To(Equal(0.0))
}
