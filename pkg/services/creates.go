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

import (
	"sync"
	"time"
)

// CreateLog remembers the create calls a controller made, by account and resource name. VPSie answers a create
// with no identifier and may list the new resource only later, so a create whose answer was lost (or that VPSie
// has not listed yet) must not be repeated at once: callers look the name up, and create again only once
// Since says the last attempt is older than their grace period. The zero value is ready to use and it is safe
// for concurrent use. It lives in memory: after a restart the status the controller recorded (a name without an
// identifier) tells that a create may be under way, and the caller starts the grace period again with Touch.
type CreateLog struct {
	mu sync.Mutex
	at map[string]time.Time
}

func createKey(account, name string) string { return account + "\x00" + name }

// Record notes a create attempt of name in account, now.
func (l *CreateLog) Record(account, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at == nil {
		l.at = map[string]time.Time{}
	}
	l.at[createKey(account, name)] = time.Now()
}

// Touch records an attempt now unless one is already recorded, and returns the attempt's time.
func (l *CreateLog) Touch(account, name string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.at[createKey(account, name)]; ok {
		return t
	}
	if l.at == nil {
		l.at = map[string]time.Time{}
	}
	now := time.Now()
	l.at[createKey(account, name)] = now
	return now
}

// Within tells whether a create of name in account was attempted less than d ago.
func (l *CreateLog) Within(account, name string, d time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.at[createKey(account, name)]
	return ok && time.Since(t) < d
}

// Forget drops the record of name in account, once the resource was found (or deleted).
func (l *CreateLog) Forget(account, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.at, createKey(account, name))
}
