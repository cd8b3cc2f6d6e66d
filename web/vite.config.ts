import { defineConfig } from 'vite';

// The console is served by `sextant serve --static web/dist` at `/`.
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2020', sourcemap: false },
  server: { proxy: { '/api': process.env.SEXTANT_API ?? 'http://127.0.0.1:8080' } },
});
