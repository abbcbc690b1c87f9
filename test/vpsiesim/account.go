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

package vpsiesim

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// SSHKey is an account SSH key. The API calls the public key text "private_key" / "privateKey".
type SSHKey struct {
	ID         int       `json:"id"`
	Identifier string    `json:"identifier"`
	Name       string    `json:"name"`
	PublicKey  string    `json:"publicKey"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Script is an account startup script.
type Script struct {
	ID         int       `json:"id"`
	Identifier string    `json:"identifier"`
	Name       string    `json:"name"`
	Content    string    `json:"content"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Tag is an account tag.
type Tag struct {
	ID         int    `json:"id"`
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
	Color      string `json:"color"`
}

func (t *Tag) json() map[string]any {
	return map[string]any{"id": t.ID, "identifier": t.Identifier, "name": t.Name, "color": t.Color}
}

func (s *Simulator) sshKeyLocked(identifier string) *SSHKey {
	for _, k := range s.sshKeys {
		if k.Identifier == identifier {
			return k
		}
	}
	return nil
}

func (s *Simulator) scriptLocked(identifier string) *Script {
	for _, sc := range s.scripts {
		if sc.Identifier == identifier {
			return sc
		}
	}
	return nil
}

func (s *Simulator) tagLocked(name string) *Tag {
	for _, t := range s.tags {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// registerTagsLocked adds tags used on resources to the account's tag list (default colour).
func (s *Simulator) registerTagsLocked(names []string) {
	for _, n := range names {
		if s.tagLocked(n) == nil {
			s.tags = append(s.tags, &Tag{ID: s.nextID("tag", 0), Identifier: newUUID(), Name: n, Color: "#808080"})
		}
	}
}

// handleListSSHKeys serves GET /apps/v2/sshkeys.
func (s *Simulator) handleListSSHKeys(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var out []map[string]any
	for _, k := range s.sshKeys {
		out = append(out, map[string]any{"id": k.ID, "identifier": k.Identifier, "name": k.Name,
			"private_key": k.PublicKey, "created_on": apiTime(k.CreatedAt)})
	}
	s.mu.Unlock()
	writeList(w, out, len(out))
}

// handleAddSSHKey serves POST /apps/v2/sshkey/add {"privateKey": <public key text>, "name"}. No id is returned;
// names need not be unique.
func (s *Simulator) handleAddSSHKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		PrivateKey string `json:"privateKey"`
		Name       string `json:"name"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	key := strings.TrimSpace(in.PrivateKey)
	switch {
	case strings.TrimSpace(in.Name) == "":
		writeError(w, http.StatusBadRequest, "name is required")
		return
	case key == "":
		writeError(w, http.StatusBadRequest, "privateKey is required")
		return
	case !strings.HasPrefix(key, "ssh-") && !strings.HasPrefix(key, "ecdsa-") && !strings.HasPrefix(key, "sk-"):
		writeError(w, http.StatusBadRequest, "Invalid SSH key")
		return
	}
	s.AddSSHKey(in.Name, key)
	writeBool(w, true)
}

// AddSSHKey adds a key to the account, as the console or POST /apps/v2/sshkey/add would, and returns it: how a
// test seeds the account with the key its flavors name.
func (s *Simulator) AddSSHKey(name, publicKey string) SSHKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := &SSHKey{ID: s.nextID("sshkey", 100), Identifier: newUUID(), Name: name, PublicKey: publicKey, CreatedAt: time.Now()}
	s.sshKeys = append(s.sshKeys, k)
	return *k
}

// handleDeleteSSHKey serves DELETE /apps/v2/sshkey {"identifier"}.
func (s *Simulator) handleDeleteSSHKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Identifier string `json:"identifier"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	s.mu.Lock()
	n := len(s.sshKeys)
	s.sshKeys = slices.DeleteFunc(s.sshKeys, func(k *SSHKey) bool { return k.Identifier == in.Identifier })
	found := len(s.sshKeys) < n
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "SSH key not found")
		return
	}
	writeBool(w, true)
}

// handleListScripts serves GET /apps/v2/scripts.
func (s *Simulator) handleListScripts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var out []map[string]any
	for _, sc := range s.scripts {
		out = append(out, map[string]any{"id": sc.ID, "identifier": sc.Identifier, "name": sc.Name,
			"script": sc.Content, "type": sc.Type, "created_on": apiTime(sc.CreatedAt)})
	}
	s.mu.Unlock()
	writeList(w, out, len(out))
}

// handleAddScript serves POST /apps/v2/script/add {name, scriptContent, scriptType}.
func (s *Simulator) handleAddScript(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name          string `json:"name"`
		ScriptContent string `json:"scriptContent"`
		ScriptType    string `json:"scriptType"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	if strings.TrimSpace(in.Name) == "" || in.ScriptContent == "" {
		writeError(w, http.StatusBadRequest, "name and scriptContent are required")
		return
	}
	if in.ScriptType == "" {
		in.ScriptType = "bash"
	}
	s.mu.Lock()
	s.scripts = append(s.scripts, &Script{ID: s.nextID("script", 100), Identifier: newUUID(), Name: in.Name,
		Content: in.ScriptContent, Type: in.ScriptType, CreatedAt: time.Now()})
	s.mu.Unlock()
	writeBool(w, true)
}

// handleListTags serves GET /apps/v2/tags.
func (s *Simulator) handleListTags(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var out []map[string]any
	for _, t := range s.tags {
		out = append(out, t.json())
	}
	s.mu.Unlock()
	writeList(w, out, len(out))
}

// handleAddTag serves POST /apps/v2/tags/add {name, color}. Adding an existing name is a no-op (data:true).
func (s *Simulator) handleAddTag(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name  string `json:"name"`
		Color string `json:"color"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	if strings.TrimSpace(in.Name) == "" {
		writeError(w, http.StatusBadRequest, "name is required")
		return
	}
	s.mu.Lock()
	s.registerTagsLocked([]string{in.Name})
	if in.Color != "" {
		s.tagLocked(in.Name).Color = in.Color
	}
	s.mu.Unlock()
	writeBool(w, true)
}

// handleEditTags serves PUT /apps/v2/tags/edit {entity, identifier, tags}: replaces the tags of a VM (entity
// "vm" or "server") or a load balancer ("lb" or "loadbalancer").
func (s *Simulator) handleEditTags(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Entity     string   `json:"entity"`
		Identifier string   `json:"identifier"`
		Tags       []string `json:"tags"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	tags := uniqueStrings(in.Tags)
	status, msg := s.editTags(strings.ToLower(in.Entity), in.Identifier, tags)
	if status != 0 {
		writeError(w, status, msg)
		return
	}
	writeBool(w, true)
}

func (s *Simulator) editTags(entity, identifier string, tags []string) (status int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch entity {
	case "vm", "server":
		v := s.vms[identifier]
		if v == nil || !v.shown(time.Now()) {
			return http.StatusNotFound, msgVMNotFound
		}
		v.Tags, v.UpdatedAt = tags, time.Now()
	case "lb", "loadbalancer":
		lb := s.lbs[identifier]
		if lb == nil || lb.State != LBActive {
			return http.StatusNotFound, msgLBNotFound
		}
		lb.Tags = tags
	default:
		return http.StatusBadRequest, "entity must be one of vm, lb"
	}
	s.registerTagsLocked(tags)
	return 0, ""
}
