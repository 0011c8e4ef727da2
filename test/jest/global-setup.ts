export { default } from '../../packages/devcluster/src/jest/global-setup';
