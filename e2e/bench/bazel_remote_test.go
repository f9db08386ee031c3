package main

import "testing"

func TestParseBuildbarnMetrics(t *testing.T) {
	// Lines as the Buildbarn frontend (bb_storage) serves them; only its
	// gRPC backends count: they carry exactly what Bazel sent and received.
	metrics := `# HELP buildbarn_blobstore_blob_access_operations_blob_size_bytes Size of blobs being inserted/retrieved, in bytes.
# TYPE buildbarn_blobstore_blob_access_operations_blob_size_bytes histogram
buildbarn_blobstore_blob_access_operations_blob_size_bytes_bucket{backend_type="grpc",operation="Get",storage_type="cas",le="1"} 0
buildbarn_blobstore_blob_access_operations_blob_size_bytes_sum{backend_type="completeness_checking",operation="Get",storage_type="ac"} 999
buildbarn_blobstore_blob_access_operations_blob_size_bytes_sum{backend_type="grpc",operation="Get",storage_type="ac"} 1000
buildbarn_blobstore_blob_access_operations_blob_size_bytes_sum{backend_type="grpc",operation="Get",storage_type="cas"} 1.3915385e+07
buildbarn_blobstore_blob_access_operations_blob_size_bytes_sum{backend_type="grpc",operation="GetFromComposite",storage_type="cas"} 5
buildbarn_blobstore_blob_access_operations_blob_size_bytes_sum{backend_type="grpc",operation="Put",storage_type="ac"} 20
buildbarn_blobstore_blob_access_operations_blob_size_bytes_sum{backend_type="grpc",operation="Put",storage_type="cas"} 1.89720205e+08
`
	got, err := parseBuildbarnMetrics([]byte(metrics))
	if err != nil {
		t.Fatal(err)
	}
	if want := (casTraffic{up: 189720225, down: 13916385}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := parseBuildbarnMetrics([]byte(`buildbarn_blobstore_blob_access_operations_blob_size_bytes_sum{backend_type="grpc",operation="Put"} x`)); err == nil {
		t.Error("a malformed value was accepted")
	}
}
