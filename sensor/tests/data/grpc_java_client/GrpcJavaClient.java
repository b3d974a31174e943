import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Minimal grpc-java client over a Unix domain socket, without generated code.
 *
 * Usage: GrpcJavaClient SOCKET_PATH METHOD REQUEST_HEX RESPONSES [unary|stream]
 *   METHOD e.g. /sensor.v1.Sensor/Status
 *   REQUEST_HEX: serialized request message as hex ("" = empty message)
 *   RESPONSES: number of responses to print (for streaming calls, stop after that many)
 *   5th arg optional: call type; default = server-streaming if the method name
 *   ends in "Subscribe", otherwise unary.
 * Prints each response message as one line of lowercase hex; exit 0, or 1 on error.
 */
public final class GrpcJavaClient {
    // grpc-netty sets SO_KEEPALIVE, which a Unix socket channel does not know: netty logs a
    // harmless "Unknown channel option 'SO_KEEPALIVE'" WARNING on stderr for every connection.
    private static final Logger BOOTSTRAP_LOG = Logger.getLogger("io.netty.bootstrap");

    /** Identity marshaller: byte[] <-> raw message bytes. */
    static final class BytesMarshaller implements MethodDescriptor.Marshaller<byte[]> {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    static byte[] fromHex(String s) {
        if (s.length() % 2 != 0) throw new IllegalArgumentException("odd-length hex: " + s);
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }

    static String toHex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        return sb.toString();
    }

    public static void main(String[] args) {
        if (args.length < 4 || args.length > 5) {
            System.err.println("usage: GrpcJavaClient SOCKET_PATH METHOD REQUEST_HEX RESPONSES [unary|stream]");
            System.exit(2);
        }
        BOOTSTRAP_LOG.setLevel(Level.SEVERE);
        String socketPath = args[0];
        String method = args[1];
        EpollEventLoopGroup group = null;
        ManagedChannel channel = null;
        int rc = 0;
        try {
            byte[] request = fromHex(args[2]);
            int responses = Integer.parseInt(args[3]);
            boolean streaming = args.length == 5 ? args[4].startsWith("stream") : method.endsWith("Subscribe");

            String fullName = method.startsWith("/") ? method.substring(1) : method;
            BytesMarshaller m = new BytesMarshaller();
            MethodDescriptor<byte[], byte[]> md = MethodDescriptor.<byte[], byte[]>newBuilder()
                    .setType(streaming ? MethodDescriptor.MethodType.SERVER_STREAMING
                                       : MethodDescriptor.MethodType.UNARY)
                    .setFullMethodName(fullName)
                    .setRequestMarshaller(m)
                    .setResponseMarshaller(m)
                    .build();

            group = new EpollEventLoopGroup(1);
            channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socketPath))
                    .eventLoopGroup(group)
                    .channelType(EpollDomainSocketChannel.class)
                    .usePlaintext()
                    .build();

            if (!streaming) {
                byte[] resp = ClientCalls.blockingUnaryCall(channel, md, CallOptions.DEFAULT, request);
                System.out.println(toHex(resp));
            } else {
                Iterator<byte[]> it = ClientCalls.blockingServerStreamingCall(channel, md, CallOptions.DEFAULT, request);
                int n = 0;
                while (n < responses && it.hasNext()) {
                    System.out.println(toHex(it.next()));
                    n++;
                }
                // Leaving early: shutdownNow() below cancels the still-open stream.
            }
            System.out.flush();
        } catch (Throwable t) {
            System.err.println("error: " + t);
            rc = 1;
        } finally {
            if (channel != null) {
                channel.shutdownNow();
                try {
                    channel.awaitTermination(2, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
            if (group != null) group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
        System.exit(rc);
    }
}
