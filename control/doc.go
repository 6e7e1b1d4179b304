// Package control is the protocol between the running daemon and ikectl:
// one JSON request and one JSON response per connection over a unix socket
// (daemon.control-socket, mode 0600, so only root drives the daemon).
//
// Why JSON over a unix socket: operators script ikectl (`ikectl -json`), the
// file permissions are the access control, and both ends share these types,
// so the daemon and the client cannot disagree on a field.
package control
