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

package services

import "time"

// PollTiming is how soon a reconcile that waits on VPSie looks again. Services take it in their constructors
// (main.go sets it from flags, tests and the benchmark set it the same way); zero fields take the service's
// defaults.
type PollTiming struct {
	// Poll is the wait while a resource is being created, joined or made ready.
	Poll time.Duration
	// DeletePoll is the wait while a deleted resource may still be there.
	DeletePoll time.Duration
	// Recheck is the wait before a ready resource that can be changed out of band (a firewall group's rules
	// and attachments) is checked again.
	Recheck time.Duration
}

// OrDefaults fills t's zero fields from def.
func (t PollTiming) OrDefaults(def PollTiming) PollTiming {
	return PollTiming{Poll: OrDefault(t.Poll, def.Poll), DeletePoll: OrDefault(t.DeletePoll, def.DeletePoll),
		Recheck: OrDefault(t.Recheck, def.Recheck)}
}

// OrDefault is d, or def when d is not positive.
func OrDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
