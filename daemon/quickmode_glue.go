package daemon

// EstablishedSA returns an established ISAKMP SA of the connection, or
// nil. quickmode/ uses it for a kernel ACQUIRE: when the connection's
// phase 1 is up, Quick Mode starts on that SA (set c.SA to it, then
// Begin); otherwise Context.Initiate starts phase 1 first.
func (c *Context) EstablishedSA(conn string) *SA {
	for _, sa := range c.d.allSAs() {
		if sa.Established && sa.Conn == conn && c.d.alive(sa) {
			return sa
		}
	}
	return nil
}
