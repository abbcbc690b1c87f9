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

package intent

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestWaitingSaysWhatEachPhaseWaitsFor(t *testing.T) {
	since := time.Date(2026, 12, 3, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		out  Outcome
		want string
	}{
		{Outcome{Phase: InQueue}, "VPSie is creating the VPC v"},
		{Outcome{Phase: Created, Since: since}, "VPSie accepted the VPC v; waiting for it to be listed"},
		{Outcome{Phase: Accepted, Since: since}, "VPSie accepted the VPC v; waiting for it to be listed"},
		{Outcome{Phase: Uncertain, Since: since, Err: errors.New("502")},
			"the outcome of the create of the VPC v at 2026-12-03T09:00:00Z is unknown (its answer was lost, or the " +
				"controller restarted); looking for it before creating it again"},
	} {
		NewWithT(t).Expect(tc.out.Waiting(context.Background(), "the VPC v")).To(Equal(tc.want), string(tc.out.Phase))
	}
}
