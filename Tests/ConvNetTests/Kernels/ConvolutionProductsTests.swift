import Testing

@testable import ConvNet

/// `convnet bench --gemm-shapes` times `gemm` on each convolution's im2col products; these are
/// checked against the layers' own multiply-add counts and the layouts Conv2D passes.
@Suite("Convolution products of the benchmark workloads")
struct ConvolutionProductsTests {
    @Test(arguments: [BenchmarkWorkload.w1, .w2, .w3])
    func productsMatchTheLayersMultiplyAdds(workload: BenchmarkWorkload) throws {
        let batch = 3
        let products = try workload.convolutionProducts(batch: batch)
        let flops = try FlopCount(network: workload.makeNetwork(), inputShape: workload.inputShape)
        let network = try workload.makeNetwork()
        let convolutionLayers = network.layers.indices.filter {
            network.layers[$0].specification.token == ConvolutionKind.token
        }
        #expect(products.count == 3 * convolutionLayers.count)
        for layer in convolutionLayers {
            let passes = products.filter { $0.layer == layer }
            #expect(passes.map(\.pass) == ["forward", "weight gradient", "input gradient"])
            // Each pass multiplies as many times as the forward pass of the whole batch.
            for product in passes {
                #expect(product.m * product.n * product.k == batch * flops.forwardMACsPerLayer[layer])
            }
            let (forward, weightGradient, inputGradient) = (passes[0], passes[1], passes[2])
            #expect(forward.transposeA && !forward.transposeB)
            #expect(!weightGradient.transposeA && weightGradient.transposeB)
            #expect(inputGradient.transposeA && !inputGradient.transposeB)
            // Forward [F × N·P] from [patch × F]ᵀ·[patch × N·P]; the gradients reuse its sizes.
            #expect(weightGradient.m == forward.m && weightGradient.n == forward.k && weightGradient.k == forward.n)
            #expect(inputGradient.m == forward.k && inputGradient.n == forward.n && inputGradient.k == forward.m)
            #expect(forward.n % batch == 0)
        }
    }

    @Test func firstLayerOfW1() throws {
        let products = try BenchmarkWorkload.w1.convolutionProducts(batch: 64)
        let forward = try #require(products.first)
        // conv 32@7×7 pad 3 on 3×32×32: F = 32, patch = 3·49, N·P = 64·1024.
        #expect((forward.m, forward.n, forward.k) == (32, 65536, 147))
        #expect(products.count == 3)
    }
}
