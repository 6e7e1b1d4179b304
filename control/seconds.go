package control

import (
	"encoding/json"
	"time"
)

// seconds is a duration as the control protocol's JSON carries it: a
// number of seconds, with up to nine decimals so that the daemon's
// nanoseconds come back exactly. Fields holding one are named *_seconds
// (docs/man/ikectl.8.md, "JSON output").
type seconds time.Duration

func (s seconds) MarshalJSON() ([]byte, error) { return s.appendJSON(nil), nil }

func (s *seconds) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	d, err := time.ParseDuration(n.String() + "s")
	if err != nil {
		return err
	}
	*s = seconds(d)
	return nil
}

// durationPtr converts an optional duration back from JSON.
func durationPtr(s *seconds) *time.Duration {
	if s == nil {
		return nil
	}
	d := time.Duration(*s)
	return &d
}

// The JSON forms of Status, SA and ChildSA carry their durations in
// seconds; the Go fields stay time.Duration for the daemon and tests.

type statusJSON Status

// MarshalJSON writes Uptime as uptime_seconds.
func (s Status) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		statusJSON
		Uptime seconds `json:"uptime_seconds"`
	}{statusJSON(s), seconds(s.Uptime)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Status) UnmarshalJSON(b []byte) error {
	v := struct {
		*statusJSON
		Uptime seconds `json:"uptime_seconds"`
	}{statusJSON: (*statusJSON)(s)}
	if err := strictUnmarshal(b, &v); err != nil {
		return err
	}
	s.Uptime = time.Duration(v.Uptime)
	return nil
}

type saJSON SA

// saWire is an SA as JSON carries it: its children as childWire, Age as
// age_seconds. A client decodes it in one pass (the nested Unmarshalers of
// SA and ChildSA would each scan their bytes again).
type saWire struct {
	saJSON
	Children []childWire `json:"children,omitempty"`
	Age      seconds     `json:"age_seconds"`
}

func (w *saWire) sa() SA {
	sa := SA(w.saJSON)
	sa.Age = time.Duration(w.Age)
	sa.Children = nil
	if w.Children != nil {
		sa.Children = make([]ChildSA, len(w.Children))
		for i := range w.Children {
			sa.Children[i] = w.Children[i].child()
		}
	}
	return sa
}

// MarshalJSON writes Age as age_seconds (AppendJSON).
func (sa SA) MarshalJSON() ([]byte, error) { return sa.AppendJSON(nil), nil }

// UnmarshalJSON reads what MarshalJSON writes.
func (sa *SA) UnmarshalJSON(b []byte) error {
	var w saWire
	if err := strictUnmarshal(b, &w); err != nil {
		return err
	}
	*sa = w.sa()
	return nil
}

type childJSON ChildSA

// childWire is a ChildSA as JSON carries it.
type childWire struct {
	childJSON
	Age       seconds  `json:"age_seconds"`
	RekeyIn   *seconds `json:"rekey_in_seconds,omitempty"`
	ExpiresIn *seconds `json:"expires_in_seconds,omitempty"`
}

func (w *childWire) child() ChildSA {
	c := ChildSA(w.childJSON)
	c.Age, c.RekeyIn, c.ExpiresIn = time.Duration(w.Age), durationPtr(w.RekeyIn), durationPtr(w.ExpiresIn)
	return c
}

// MarshalJSON writes Age, RekeyIn and ExpiresIn as age_seconds,
// rekey_in_seconds and expires_in_seconds (AppendJSON).
func (c ChildSA) MarshalJSON() ([]byte, error) { return c.AppendJSON(nil), nil }

// UnmarshalJSON reads what MarshalJSON writes.
func (c *ChildSA) UnmarshalJSON(b []byte) error {
	var w childWire
	if err := strictUnmarshal(b, &w); err != nil {
		return err
	}
	*c = w.child()
	return nil
}

// strictUnmarshal decodes as readMessage does, refusing unknown fields,
// which a custom UnmarshalJSON would otherwise let through.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
