// A plain page: pick a sample and a kernel, run, see the feature map. The visualizer replaces it.
const initial = JSON.parse(document.getElementById("initial-data").textContent);
const $ = (id) => document.getElementById(id);

for (const sample of initial.samples) $("sample").append(new Option(sample.title, sample.id));
for (const kernel of initial.kernels) $("kernel").append(new Option(kernel.name, kernel.name, false, kernel.name === "sobel_x"));

async function run(event) {
  event?.preventDefault();
  const body = {
    source: { image_id: $("sample").value, color: "gray" },
    operation: { op: "conv2d", filters: [{ kernel: { name: $("kernel").value } }],
                 stride: Number($("stride").value), padding: $("padding").value },
  };
  $("status").textContent = "computing…";
  const response = await fetch("/api/run", { method: "POST", headers: { "content-type": "application/json" },
                                             body: JSON.stringify(body) });
  const data = await response.json();
  if (!response.ok) { $("status").textContent = data.detail; return; }
  $("status").textContent = `output ${data.output_shape.join("x")}, ${data.frame_count.toLocaleString()} steps`;
  $("formula").textContent = `rows: ${data.formula.rows} · cols: ${data.formula.cols}`;
  $("input").src = data.input_png_url;
  $("output").src = data.result_png_url;
}

$("controls").addEventListener("submit", run);
run();
