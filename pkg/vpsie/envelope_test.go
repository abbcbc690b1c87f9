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

package vpsie

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestTolerantScalars(t *testing.T) {
	g := NewWithT(t)
	var v struct {
		A, B, C, D, E, F, G Int
		P, Q, R             Float
		S, T, U, W, X       String
		I, J, K             ID
	}
	err := json.Unmarshal([]byte(`{
		"A": 12, "B": "34", "C": 2048.0, "D": null, "E": true, "F": "n/a", "G": " 7 ",
		"P": "5.00", "Q": 1.5, "R": null,
		"S": "x", "T": null, "U": 42, "W": {"a": 1}, "X": [1, 2],
		"I": 77, "J": "78", "K": null}`), &v)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]Int{v.A, v.B, v.C, v.D, v.E, v.F, v.G}).To(Equal([]Int{12, 34, 2048, 0, 1, 0, 7}))
	g.Expect([]Float{v.P, v.Q, v.R}).To(Equal([]Float{5, 1.5, 0}))
	g.Expect([]String{v.S, v.T, v.U, v.W, v.X}).To(Equal([]String{"x", "", "42", `{"a":1}`, "[1,2]"}))
	g.Expect([]ID{v.I, v.J, v.K}).To(Equal([]ID{"77", "78", ""}))
	n, ok := v.I.Int64()
	g.Expect(ok).To(BeTrue())
	g.Expect(n).To(Equal(int64(77)))
	_, ok = ID("uuid-x").Int64()
	g.Expect(ok).To(BeFalse())
}

func TestFlagSerialisesAsStrings(t *testing.T) {
	g := NewWithT(t)
	b, err := json.Marshal(struct{ On, Off Flag }{true, false})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(b)).To(Equal(`{"On":"1","Off":"0"}`))
	var f struct{ A, B, C, D, E, F Flag }
	g.Expect(json.Unmarshal([]byte(`{"A":"1","B":1,"C":true,"D":"0","E":false,"F":null}`), &f)).To(Succeed())
	g.Expect([]Flag{f.A, f.B, f.C, f.D, f.E, f.F}).To(Equal([]Flag{true, true, true, false, false, false}))
}

func TestDecodeListShapes(t *testing.T) {
	type item struct {
		ID Int `json:"id"`
	}
	for _, tc := range []struct {
		name  string
		data  string
		total int
		ids   []Int
		bad   bool
	}{
		{"array", `[{"id":1},{"id":"2"}]`, 5, []Int{1, 2}, false},
		{"rows/count", `{"rows":[{"id":1}],"count":"9"}`, 9, []Int{1}, false},
		{"nested data", `{"data":[{"id":3}],"total":1}`, 1, []Int{3}, false},
		{"array of arrays", `[[{"id":4},{"id":5}]]`, 5, []Int{4, 5}, false},
		{"null", `null`, 5, nil, false},
		{"false", `false`, 5, nil, false},
		{"nulls inside", `[null,{"id":6}]`, 5, []Int{6}, false},
		{"object without rows", `{"id":1}`, 0, nil, true},
		{"scalar", `"x"`, 0, nil, true},
		{"bad item", `[1]`, 0, nil, true},
		{"bad nested item", `[[1]]`, 0, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			total := 5
			if tc.name == "rows/count" || tc.name == "nested data" {
				total = 0 // the envelope's total is absent: the inner count is used
			}
			items, gotTotal, err := decodeList[item]("Op", &response{status: 200, data: json.RawMessage(tc.data), total: total})
			if tc.bad {
				g.Expect(ClassOf(err)).To(Equal(ClassTerminal))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(gotTotal).To(Equal(tc.total))
			var ids []Int
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			g.Expect(ids).To(Equal(tc.ids))
		})
	}
}

func TestInterpretEnvelope(t *testing.T) {
	g := NewWithT(t)
	now := time.Now()
	h := http.Header{}

	res, e := interpret("Op", 200, h, []byte(`{"error":false,"data":[1],"total":"3"}`), now)
	g.Expect(e).To(BeNil())
	g.Expect(string(res.data)).To(Equal("[1]"))
	g.Expect(res.total).To(Equal(3))

	res, e = interpret("Op", 200, h, []byte(`  [1,2] `), now)
	g.Expect(e).To(BeNil())
	g.Expect(string(res.data)).To(Equal("[1,2]"), "a bare array is the data")

	res, e = interpret("Op", 200, h, []byte(`{"id":5}`), now)
	g.Expect(e).To(BeNil())
	g.Expect(string(res.data)).To(Equal(`{"id":5}`), "a bare object is the data")

	res, e = interpret("Op", 200, h, []byte(`{"error":false}`), now)
	g.Expect(e).To(BeNil())
	g.Expect(res.data).To(BeNil())

	res, e = interpret("Op", 200, h, nil, now)
	g.Expect(e).To(BeNil())
	g.Expect(res.data).To(BeNil())

	_, e = interpret("Op", 200, h, []byte(`{"error":"true","message":42}`), now)
	g.Expect(e).NotTo(BeNil())
	g.Expect(e.Message).To(Equal("42"))

	_, e = interpret("Op", 200, h, []byte(`{"error":1,"code":"400","message":"Invalid plan"}`), now)
	g.Expect(e.Code).To(Equal(400))
	g.Expect(e.Class).To(Equal(ClassTerminal))

	_, e = interpret("Op", 200, h, []byte(`{"error":{"code":422,"message":"Hostname is invalid"}}`), now)
	g.Expect(e.Code).To(Equal(422))
	g.Expect(e.Message).To(Equal("Hostname is invalid"))
	g.Expect(e.Class).To(Equal(ClassTerminal))

	_, e = interpret("Op", 502, h, []byte(`{"truncated`), now)
	g.Expect(e.Class).To(Equal(ClassTransient))

	h.Set("Retry-After", "2")
	_, e = interpret("Op", 429, h, []byte(``), now)
	g.Expect(e.Class).To(Equal(ClassRateLimited))
	g.Expect(e.RetryAfter).To(Equal(2 * time.Second))
}

func TestDecodeObjectNotFound(t *testing.T) {
	g := NewWithT(t)
	var out map[string]any
	for _, d := range []string{"false", "null", ""} {
		err := decodeObject("GetVM", &response{status: 200, data: json.RawMessage(d)}, &out)
		g.Expect(IsNotFound(err)).To(BeTrue(), d)
	}
	err := decodeObject("GetVM", &response{status: 200, data: json.RawMessage(`[1]`)}, &out)
	g.Expect(IsTerminal(err)).To(BeTrue())
}

func TestIDBefore(t *testing.T) {
	g := NewWithT(t)
	g.Expect(ID("9").Before("10")).To(BeTrue(), "numbers compare as numbers")
	g.Expect(ID("10").Before("9")).To(BeFalse())
	g.Expect(ID("abc").Before("abd")).To(BeTrue(), "anything else as text")
	g.Expect(ID("7").Before("7")).To(BeFalse())
}
