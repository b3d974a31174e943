// A client of the sensor's gRPC API in grpc-go (Debian's golang-google-grpc-dev, built at test
// time in GOPATH mode), with grpc-go's default settings: `sensor/tests/grpc_stock_clients.rs`.
//
// It needs no generated code: messages pass through as bytes (the test encodes the request
// and decodes the responses with the sensor's own prost types).
//
//	grpc_go_client TARGET METHOD REQUEST_HEX RESPONSES
//
// calls METHOD (e.g. /sensor.v1.Sensor/Status) on TARGET (e.g. unix:///run/sensor.sock) and
// prints each of the first RESPONSES responses as a line of hex.
package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
)

// rawCodec hands message bytes through unchanged.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "grpc_go_client: %s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: grpc_go_client TARGET METHOD REQUEST_HEX RESPONSES")
		os.Exit(2)
	}
	target, method := os.Args[1], os.Args[2]
	request, err := hex.DecodeString(os.Args[3])
	if err != nil {
		fail("request", err)
	}
	responses, err := strconv.Atoi(os.Args[4])
	if err != nil {
		fail("responses", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, target, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fail("dial", err)
	}
	defer conn.Close()
	desc := &grpc.StreamDesc{ServerStreams: true}
	stream, err := conn.NewStream(ctx, desc, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		fail("stream", err)
	}
	if err := stream.SendMsg(&request); err != nil {
		fail("send", err)
	}
	if err := stream.CloseSend(); err != nil {
		fail("close send", err)
	}
	for i := 0; i < responses; i++ {
		var response []byte
		if err := stream.RecvMsg(&response); err != nil {
			fail("receive", err)
		}
		fmt.Println(hex.EncodeToString(response))
	}
}
