package fake

import "github.com/gorilla/websocket"

// SendRaw writes data unchanged as one text message, for tests of how a
// relay treats malformed frames. It does not advance time.
func (c *MediaClient) SendRaw(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(data)
}

// SendBinary writes data as one binary message (Twilio only sends text).
func (c *MediaClient) SendBinary(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.WriteMessage(websocket.BinaryMessage, data)
}
