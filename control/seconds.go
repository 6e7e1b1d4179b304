package control

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// seconds is a duration as the control protocol's JSON carries it: a
// number of seconds, with up to nine decimals so that the daemon's
// nanoseconds come back exactly. Fields holding one are named *_seconds
// (docs/man/ikectl.8.md, "JSON output").
type seconds time.Duration

func (s seconds) MarshalJSON() ([]byte, error) {
	d := time.Duration(s)
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	whole, frac := int64(d/time.Second), int64(d%time.Second)
	text := sign + strconv.FormatInt(whole, 10)
	if frac != 0 {
		text += strings.TrimRight("."+strconv.FormatInt(frac+1e9, 10)[1:], "0")
	}
	return []byte(text), nil
}

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

// secondsPtr converts an optional duration for JSON.
func secondsPtr(d *time.Duration) *seconds {
	if d == nil {
		return nil
	}
	s := seconds(*d)
	return &s
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

// MarshalJSON writes Age as age_seconds.
func (sa SA) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		saJSON
		Age seconds `json:"age_seconds"`
	}{saJSON(sa), seconds(sa.Age)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (sa *SA) UnmarshalJSON(b []byte) error {
	v := struct {
		*saJSON
		Age seconds `json:"age_seconds"`
	}{saJSON: (*saJSON)(sa)}
	if err := strictUnmarshal(b, &v); err != nil {
		return err
	}
	sa.Age = time.Duration(v.Age)
	return nil
}

type childJSON ChildSA

// MarshalJSON writes Age, RekeyIn and ExpiresIn as age_seconds,
// rekey_in_seconds and expires_in_seconds.
func (c ChildSA) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		childJSON
		Age       seconds  `json:"age_seconds"`
		RekeyIn   *seconds `json:"rekey_in_seconds,omitempty"`
		ExpiresIn *seconds `json:"expires_in_seconds,omitempty"`
	}{childJSON(c), seconds(c.Age), secondsPtr(c.RekeyIn), secondsPtr(c.ExpiresIn)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *ChildSA) UnmarshalJSON(b []byte) error {
	v := struct {
		*childJSON
		Age       seconds  `json:"age_seconds"`
		RekeyIn   *seconds `json:"rekey_in_seconds,omitempty"`
		ExpiresIn *seconds `json:"expires_in_seconds,omitempty"`
	}{childJSON: (*childJSON)(c)}
	if err := strictUnmarshal(b, &v); err != nil {
		return err
	}
	c.Age, c.RekeyIn, c.ExpiresIn = time.Duration(v.Age), durationPtr(v.RekeyIn), durationPtr(v.ExpiresIn)
	return nil
}

// strictUnmarshal decodes as readMessage does, refusing unknown fields,
// which a custom UnmarshalJSON would otherwise let through.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
