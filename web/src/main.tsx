import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
// The global sheets first: each component's own sheet comes after them.
import "./styles/base.css";
import "./styles/controls.css";
import { App } from "./App";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
