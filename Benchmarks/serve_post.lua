-- wrk script for Benchmarks/serve_load.sh: POST one image file (BODY_FILE) to /v1/predict on
-- every request; with CORRUPT_FILE set, every 100th request of each connection sends that file
-- instead (a corrupt image, answered 400) for the soak run.
local function read(name)
  local file = assert(io.open(name, "rb"))
  local bytes = file:read("*a")
  file:close()
  return bytes
end
local good = read(os.getenv("BODY_FILE"))
local corrupt = os.getenv("CORRUPT_FILE") and read(os.getenv("CORRUPT_FILE"))
local count = 0
request = function()
  count = count + 1
  local body = (corrupt and count % 100 == 0) and corrupt or good
  return wrk.format("POST", "/v1/predict", {["Content-Type"] = "application/octet-stream"}, body)
end
