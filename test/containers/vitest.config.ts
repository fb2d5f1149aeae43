import { defineConfig } from 'vitest/config'

// The container tier (`npm run test:containers`): the lab's scenario on a real container engine.
// Skips with a one-line reason where there is none (see container-engine.ts).
export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    include: ['test/containers/**/*.test.ts'],
    fileParallelism: false,
    // Pulling images on a cold machine takes a while.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
})
